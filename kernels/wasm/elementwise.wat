;; Float32 add, subtract and multiply over one row of a broadcast, the kernel
;; of the binary ops in kernels/tfjs-elementwise.ts. Each operand steps by 1
;; or 0 floats per element (0: one value repeated). IEEE float32 arithmetic,
;; so every result equals the JavaScript loop's (NaN stays NaN).

(module
  (import "kernels" "memory" (memory 1 65536 shared))

  ;; out[i] = a[i·as] op b[i·bs] for i < n; op 0: x + y, 1: x − y, 2: x · y; byte addresses,
  ;; steps 0 or 1. Four lanes at a time in one loop per op (no call or branch per vector): an
  ;; operand with step 0 is its one value splatted before the loop, and its vector load in
  ;; the loop (16 bytes at a fixed address, inside memory) is not selected
  (func (export "binary") (param $op i32) (param $out i32) (param $a i32) (param $as i32)
    (param $b i32) (param $bs i32) (param $n i32)
    (local $vectors i32) (local $end i32) (local $ai i32) (local $bi i32)
    (local $sa v128) (local $sb v128) (local $x v128) (local $y v128)
    (local.set $vectors (i32.add (local.get $out) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $ai (i32.shl (local.get $as) (i32.const 4)))
    (local.set $bi (i32.shl (local.get $bs) (i32.const 4)))
    (local.set $sa (v128.load32_splat (local.get $a)))
    (local.set $sb (v128.load32_splat (local.get $b)))
    (block $vectors_done
      (block $mul
        (block $sub
          (block $add
            (br_table $add $sub $mul (local.get $op)))
          (loop $next
            (br_if $vectors_done (i32.ge_u (local.get $out) (local.get $vectors)))
            (v128.store (local.get $out) (f32x4.add
              (select (result v128) (v128.load (local.get $a)) (local.get $sa) (local.get $as))
              (select (result v128) (v128.load (local.get $b)) (local.get $sb) (local.get $bs))))
            (local.set $out (i32.add (local.get $out) (i32.const 16)))
            (local.set $a (i32.add (local.get $a) (local.get $ai)))
            (local.set $b (i32.add (local.get $b) (local.get $bi)))
            (br $next)))
        (loop $next
          (br_if $vectors_done (i32.ge_u (local.get $out) (local.get $vectors)))
          (v128.store (local.get $out) (f32x4.sub
            (select (result v128) (v128.load (local.get $a)) (local.get $sa) (local.get $as))
            (select (result v128) (v128.load (local.get $b)) (local.get $sb) (local.get $bs))))
          (local.set $out (i32.add (local.get $out) (i32.const 16)))
          (local.set $a (i32.add (local.get $a) (local.get $ai)))
          (local.set $b (i32.add (local.get $b) (local.get $bi)))
          (br $next)))
      (loop $next
        (br_if $vectors_done (i32.ge_u (local.get $out) (local.get $vectors)))
        (v128.store (local.get $out) (f32x4.mul
          (select (result v128) (v128.load (local.get $a)) (local.get $sa) (local.get $as))
          (select (result v128) (v128.load (local.get $b)) (local.get $sb) (local.get $bs))))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $a (i32.add (local.get $a) (local.get $ai)))
        (local.set $b (i32.add (local.get $b) (local.get $bi)))
        (br $next)))
    ;; the last n mod 4 values, one lane at a time
    (local.set $ai (i32.shl (local.get $as) (i32.const 2)))
    (local.set $bi (i32.shl (local.get $bs) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $x (v128.load32_zero (local.get $a)))
        (local.set $y (v128.load32_zero (local.get $b)))
        (f32.store (local.get $out) (f32x4.extract_lane 0
          (if (result v128) (i32.eqz (local.get $op))
            (then (f32x4.add (local.get $x) (local.get $y)))
            (else (if (result v128) (i32.eq (local.get $op) (i32.const 1))
              (then (f32x4.sub (local.get $x) (local.get $y)))
              (else (f32x4.mul (local.get $x) (local.get $y))))))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $a (i32.add (local.get $a) (local.get $ai)))
        (local.set $b (i32.add (local.get $b) (local.get $bi)))
        (br $next))))
)
