;; Adaptive LayerNorm over rows of `width` floats (a multiple of 4), four lanes
;; at a time: the kernels of FlowmapModulatedNorm and its gradient in
;; kernels/tfjs-adaln.ts. Row r of x belongs to sample floor(r / tokens), whose
;; rows of shift and scale modulate it:
;;   y  = x̂·(1 + scale) + shift,  x̂ = (x − mean)·rstd,  rstd = 1/√(var + ε)
;;   dx = rstd·(g − mean(g) − x̂·mean(g·x̂)),  g = dy·(1 + scale)
;;   dshift += dy,  dscale += dy·x̂  (summed over the sample's rows)
;; and the gated residual of adaLN-Zero, out = x + gate·h, with its gradient.
;; Sums run in float32 lanes; all addresses are in bytes.

(module
  (import "kernels" "memory" (memory 1 65536 shared))

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; mean of the row at $x
  (func $mean (param $x i32) (param $bytes i32) (param $width f32) (result f32)
    (local $j i32) (local $acc v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $bytes)))
        (local.set $acc (f32x4.add (local.get $acc) (v128.load (i32.add (local.get $x) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $next)))
    (f32.div (call $hsum (local.get $acc)) (local.get $width)))

  ;; 1/√(var + ε) of the row at $x with mean $mean
  (func $rstd (param $x i32) (param $bytes i32) (param $width f32) (param $mean f32) (param $eps f32)
    (result f32)
    (local $j i32) (local $acc v128) (local $m v128) (local $d v128)
    (local.set $m (f32x4.splat (local.get $mean)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $bytes)))
        (local.set $d (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (local.get $m)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $next)))
    (f32.div (f32.const 1)
      (f32.sqrt (f32.add (f32.div (call $hsum (local.get $acc)) (local.get $width)) (local.get $eps)))))

  (func (export "modnorm") (param $out i32) (param $x i32) (param $shift i32) (param $scale i32)
    (param $rows i32) (param $tokens i32) (param $width i32) (param $eps f32)
    (local $row i32) (local $j i32) (local $bytes i32) (local $n f32) (local $mean f32)
    (local $m v128) (local $r v128) (local $mod i32)
    (local.set $bytes (i32.shl (local.get $width) (i32.const 2)))
    (local.set $n (f32.convert_i32_u (local.get $width)))
    (block $rows_done
      (loop $rows_next
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $mean (call $mean (local.get $x) (local.get $bytes) (local.get $n)))
        (local.set $m (f32x4.splat (local.get $mean)))
        (local.set $r (f32x4.splat
          (call $rstd (local.get $x) (local.get $bytes) (local.get $n) (local.get $mean) (local.get $eps))))
        (local.set $mod (i32.mul (i32.div_u (local.get $row) (local.get $tokens)) (local.get $bytes)))
        (local.set $j (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $j) (local.get $bytes)))
            (v128.store (i32.add (local.get $out) (local.get $j))
              (f32x4.add
                (f32x4.mul
                  (f32x4.mul
                    (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (local.get $m))
                    (local.get $r))
                  (f32x4.add (v128.const f32x4 1 1 1 1)
                    (v128.load (i32.add (local.get $scale) (i32.add (local.get $mod) (local.get $j))))))
                (v128.load (i32.add (local.get $shift) (i32.add (local.get $mod) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $next)))
        (local.set $x (i32.add (local.get $x) (local.get $bytes)))
        (local.set $out (i32.add (local.get $out) (local.get $bytes)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows_next))))

  ;; $dshift and $dscale must hold zeros on entry
  (func (export "modnorm_grad") (param $dx i32) (param $dshift i32) (param $dscale i32)
    (param $dy i32) (param $x i32) (param $scale i32)
    (param $rows i32) (param $tokens i32) (param $width i32) (param $eps f32)
    (local $row i32) (local $j i32) (local $bytes i32) (local $n f32) (local $mean f32)
    (local $m v128) (local $r v128) (local $mod i32) (local $at i32)
    (local $xhat v128) (local $g v128) (local $d v128) (local $accg v128) (local $accgx v128)
    (local $mg v128) (local $mgx v128)
    (local.set $bytes (i32.shl (local.get $width) (i32.const 2)))
    (local.set $n (f32.convert_i32_u (local.get $width)))
    (block $rows_done
      (loop $rows_next
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $mean (call $mean (local.get $x) (local.get $bytes) (local.get $n)))
        (local.set $m (f32x4.splat (local.get $mean)))
        (local.set $r (f32x4.splat
          (call $rstd (local.get $x) (local.get $bytes) (local.get $n) (local.get $mean) (local.get $eps))))
        (local.set $mod (i32.mul (i32.div_u (local.get $row) (local.get $tokens)) (local.get $bytes)))
        (local.set $accg (v128.const f32x4 0 0 0 0))
        (local.set $accgx (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $j) (local.get $bytes)))
            (local.set $at (i32.add (local.get $mod) (local.get $j)))
            (local.set $d (v128.load (i32.add (local.get $dy) (local.get $j))))
            (local.set $xhat (f32x4.mul
              (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (local.get $m))
              (local.get $r)))
            (local.set $g (f32x4.mul (local.get $d) (f32x4.add (v128.const f32x4 1 1 1 1)
              (v128.load (i32.add (local.get $scale) (local.get $at))))))
            (local.set $accg (f32x4.add (local.get $accg) (local.get $g)))
            (local.set $accgx (f32x4.add (local.get $accgx) (f32x4.mul (local.get $g) (local.get $xhat))))
            (v128.store (i32.add (local.get $dshift) (local.get $at))
              (f32x4.add (v128.load (i32.add (local.get $dshift) (local.get $at))) (local.get $d)))
            (v128.store (i32.add (local.get $dscale) (local.get $at))
              (f32x4.add (v128.load (i32.add (local.get $dscale) (local.get $at)))
                (f32x4.mul (local.get $d) (local.get $xhat))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $next)))
        (local.set $mg (f32x4.splat (f32.div (call $hsum (local.get $accg)) (local.get $n))))
        (local.set $mgx (f32x4.splat (f32.div (call $hsum (local.get $accgx)) (local.get $n))))
        (local.set $j (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $j) (local.get $bytes)))
            (local.set $xhat (f32x4.mul
              (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (local.get $m))
              (local.get $r)))
            (local.set $g (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $j)))
              (f32x4.add (v128.const f32x4 1 1 1 1)
                (v128.load (i32.add (local.get $scale) (i32.add (local.get $mod) (local.get $j)))))))
            (v128.store (i32.add (local.get $dx) (local.get $j))
              (f32x4.mul (local.get $r)
                (f32x4.sub (f32x4.sub (local.get $g) (local.get $mg))
                  (f32x4.mul (local.get $xhat) (local.get $mgx)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $next)))
        (local.set $x (i32.add (local.get $x) (local.get $bytes)))
        (local.set $dy (i32.add (local.get $dy) (local.get $bytes)))
        (local.set $dx (i32.add (local.get $dx) (local.get $bytes)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows_next))))
;; out = x + gate·h per row, gate row floor(r / tokens)
  (func (export "gated") (param $out i32) (param $x i32) (param $gate i32) (param $h i32)
    (param $rows i32) (param $tokens i32) (param $width i32)
    (local $row i32) (local $j i32) (local $bytes i32) (local $mod i32)
    (local.set $bytes (i32.shl (local.get $width) (i32.const 2)))
    (block $rows_done
      (loop $rows_next
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $mod (i32.add (local.get $gate)
          (i32.mul (i32.div_u (local.get $row) (local.get $tokens)) (local.get $bytes))))
        (local.set $j (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $j) (local.get $bytes)))
            (v128.store (i32.add (local.get $out) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $x) (local.get $j)))
                (f32x4.mul (v128.load (i32.add (local.get $mod) (local.get $j)))
                  (v128.load (i32.add (local.get $h) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $next)))
        (local.set $x (i32.add (local.get $x) (local.get $bytes)))
        (local.set $h (i32.add (local.get $h) (local.get $bytes)))
        (local.set $out (i32.add (local.get $out) (local.get $bytes)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows_next))))

  ;; dh = gate·dy, dgate += dy·h (summed over the sample's rows); $dgate must hold zeros
  (func (export "gated_grad") (param $dh i32) (param $dgate i32) (param $dy i32) (param $gate i32)
    (param $h i32) (param $rows i32) (param $tokens i32) (param $width i32)
    (local $row i32) (local $j i32) (local $bytes i32) (local $mod i32) (local $d v128) (local $at i32)
    (local.set $bytes (i32.shl (local.get $width) (i32.const 2)))
    (block $rows_done
      (loop $rows_next
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $mod (i32.mul (i32.div_u (local.get $row) (local.get $tokens)) (local.get $bytes)))
        (local.set $j (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $j) (local.get $bytes)))
            (local.set $at (i32.add (local.get $mod) (local.get $j)))
            (local.set $d (v128.load (i32.add (local.get $dy) (local.get $j))))
            (v128.store (i32.add (local.get $dh) (local.get $j))
              (f32x4.mul (local.get $d) (v128.load (i32.add (local.get $gate) (local.get $at)))))
            (v128.store (i32.add (local.get $dgate) (local.get $at))
              (f32x4.add (v128.load (i32.add (local.get $dgate) (local.get $at)))
                (f32x4.mul (local.get $d) (v128.load (i32.add (local.get $h) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $next)))
        (local.set $dy (i32.add (local.get $dy) (local.get $bytes)))
        (local.set $h (i32.add (local.get $h) (local.get $bytes)))
        (local.set $dh (i32.add (local.get $dh) (local.get $bytes)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows_next))))
)
