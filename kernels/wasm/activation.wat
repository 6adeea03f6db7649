;; GELU (tanh form) with its slope, four float32 lanes at a time, the kernel
;; of FlowmapGelu in kernels/tfjs-fused.ts, and the row softmax of
;; FlowmapAttention (kernels/tfjs-attention.ts) with its gradient. The forward pass also
;; returns the slope gelu'(x), so the gradient is one product dy·gelu'(x). With
;; u = √(2/π)·(x + 0.044715·x³), 0.5·(1 + tanh(u)) = sigmoid(2u), so
;;   gelu(x)  = x / (1 + exp(−2u))
;;   gelu'(x) = s + 2·x·s·(1 − s)·du/dx,  s = sigmoid(2u).
;; exp is Cephes' expf (range reduction by ln 2 in two parts, a degree-6
;; polynomial, the exponent added to the float's bits): within 2 ulp of the
;; exact value for |z| ≤ 87, and clamped outside, so the result is finite
;; for every finite x. Arrays are padded to a multiple of four values.

(module
  (import "kernels" "memory" (memory 1 65536 shared))

  ;; exp(z) per lane, z clamped to [−87.3, 88.3] so the result is finite
  (func $exp (param $z v128) (result v128)
    (local $t v128) (local $k v128) (local $r v128) (local $p v128)
    (local.set $z (f32x4.min (f32x4.max (local.get $z)
      (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)) (v128.const f32x4 88.3 88.3 88.3 88.3)))
    ;; exp(z) = 2^k·exp(r), k = round(z / ln 2) (adding 1.5·2^23 rounds, and leaves k in
    ;; the low bits of $t), r = z − k·ln 2 in two parts
    (local.set $t (f32x4.add
      (f32x4.mul (local.get $z) (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))
      (v128.const f32x4 12582912 12582912 12582912 12582912)))
    (local.set $k (f32x4.sub (local.get $t) (v128.const f32x4 12582912 12582912 12582912 12582912)))
    (local.set $r (f32x4.sub (local.get $z) (f32x4.mul (local.get $k) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $k) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (f32x4.add (f32x4.mul (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p (f32x4.add
      (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
      (v128.const f32x4 1 1 1 1)))
    ;; 2^k: the exponent field k + 127 from the low bits of $t (0x4B400000 + k)
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (local.get $t) (v128.const i32x4 -1262485377 -1262485377 -1262485377 -1262485377))
        (i32.const 23))))

  ;; softmax over each row of $n values (a multiple of 4) at $x, in place, for $rows rows
  (func (export "softmax") (param $x i32) (param $rows i32) (param $n i32)
    (local $end i32) (local $bytes i32) (local $j i32) (local $m v128) (local $e v128)
    (local $sum v128) (local $max f32) (local $inverse v128)
    (local.set $bytes (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end (i32.add (local.get $x) (i32.mul (local.get $rows) (local.get $bytes))))
    (block $rows_done
      (loop $rows_next
        (br_if $rows_done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $m (v128.load (local.get $x)))
        (local.set $j (i32.const 16))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $j) (local.get $bytes)))
            (local.set $m (f32x4.max (local.get $m) (v128.load (i32.add (local.get $x) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $next)))
        (local.set $max (f32.max
          (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
          (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))
        (local.set $m (f32x4.splat (local.get $max)))
        (local.set $sum (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $j) (local.get $bytes)))
            (local.set $e (call $exp (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (local.get $m))))
            (v128.store (i32.add (local.get $x) (local.get $j)) (local.get $e))
            (local.set $sum (f32x4.add (local.get $sum) (local.get $e)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $next)))
        (local.set $inverse (f32x4.splat (f32.div (f32.const 1) (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $sum)) (f32x4.extract_lane 1 (local.get $sum)))
          (f32.add (f32x4.extract_lane 2 (local.get $sum)) (f32x4.extract_lane 3 (local.get $sum)))))))
        (local.set $j (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $j) (local.get $bytes)))
            (v128.store (i32.add (local.get $x) (local.get $j))
              (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $j))) (local.get $inverse)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $next)))
        (local.set $x (i32.add (local.get $x) (local.get $bytes)))
        (br $rows_next))))

  ;; ds ← p·(ds − rowsum(ds·p)) over $rows rows of $n values (a multiple of 4) at $ds, in
  ;; place, with the probabilities p at $p: the gradient of a row softmax. In float64 as
  ;; JavaScript computes it (the row sum in order, then two values at a time), so the
  ;; results are the same bits as the JavaScript loop's
  (func (export "softmax_grad") (param $ds i32) (param $p i32) (param $rows i32) (param $n i32)
    (local $end i32) (local $bytes i32) (local $j i32) (local $dot f64) (local $dots v128)
    (local.set $bytes (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end (i32.add (local.get $ds) (i32.mul (local.get $rows) (local.get $bytes))))
    (block $rows_done
      (loop $rows_next
        (br_if $rows_done (i32.ge_u (local.get $ds) (local.get $end)))
        (local.set $dot (f64.const 0))
        (local.set $j (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $j) (local.get $bytes)))
            (local.set $dot (f64.add (local.get $dot)
              (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $ds) (local.get $j))))
                (f64.promote_f32 (f32.load (i32.add (local.get $p) (local.get $j)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $next)))
        (local.set $dots (f64x2.splat (local.get $dot)))
        (local.set $j (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $j) (local.get $bytes)))
            (v128.store64_lane 0 (i32.add (local.get $ds) (local.get $j))
              (f32x4.demote_f64x2_zero (f64x2.mul
                (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (local.get $j))))
                (f64x2.sub
                  (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $ds) (local.get $j))))
                  (local.get $dots)))))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $next)))
        (local.set $ds (i32.add (local.get $ds) (local.get $bytes)))
        (local.set $p (i32.add (local.get $p) (local.get $bytes)))
        (br $rows_next))))

  ;; out[i] = gelu(x[i]) and, when $with_slope is not 0, slope[i] = gelu'(x[i]) (exactly 0 or
  ;; 1 for |x| ≥ 20, saved for the gradient, which is then dy·slope) for i < n (rounded up to
  ;; a multiple of 4); byte addresses. The exp of $exp inlined, its constants in locals (V8
  ;; rebuilds a v128.const at every use)
  (func (export "gelu") (param $out i32) (param $slope i32) (param $with_slope i32) (param $x i32)
    (param $n i32)
    (local $end i32) (local $v v128) (local $s v128) (local $far v128) (local $z v128)
    (local $t v128) (local $k v128) (local $r v128) (local $p v128) (local $pos v128)
    ;; −2·√(2/π), the clamp of z, 0.044715, log2(e), 1.5·2^23, ln 2 in two parts, the
    ;; polynomial, 127 − 0x4B400000 (see $exp), |x| beyond which the slope is 0 or 1, 1, 0,
    ;; √(2/π), 3·0.044715, 2
    (local $minus_2c v128) (local $z_min v128) (local $z_max v128) (local $cubic v128)
    (local $log2e v128) (local $round v128) (local $ln2_hi v128) (local $ln2_lo v128)
    (local $p0 v128) (local $p1 v128) (local $p2 v128) (local $p3 v128) (local $p4 v128)
    (local $p5 v128) (local $exponent v128) (local $far_x v128) (local $one v128) (local $zero v128)
    (local $c v128) (local $cubic3 v128) (local $two v128)
    (local.set $minus_2c (v128.const f32x4 -1.5957691216057308 -1.5957691216057308 -1.5957691216057308 -1.5957691216057308))
    (local.set $z_min (v128.const f32x4 -87.3 -87.3 -87.3 -87.3))
    (local.set $z_max (v128.const f32x4 88.3 88.3 88.3 88.3))
    (local.set $cubic (v128.const f32x4 0.044715 0.044715 0.044715 0.044715))
    (local.set $one (v128.const f32x4 1 1 1 1))
    (local.set $zero (v128.const f32x4 0 0 0 0))
    (local.set $far_x (v128.const f32x4 20 20 20 20))
    (local.set $c (v128.const f32x4 0.7978845608028654 0.7978845608028654 0.7978845608028654 0.7978845608028654))
    (local.set $cubic3 (v128.const f32x4 0.134145 0.134145 0.134145 0.134145))
    (local.set $two (v128.const f32x4 2 2 2 2))
    (local.set $log2e (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))
    (local.set $round (v128.const f32x4 12582912 12582912 12582912 12582912))
    (local.set $ln2_hi (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))
    (local.set $ln2_lo (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))
    (local.set $p0 (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p1 (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3))
    (local.set $p2 (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3))
    (local.set $p3 (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2))
    (local.set $p4 (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1))
    (local.set $p5 (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1))
    (local.set $exponent (v128.const i32x4 -1262485377 -1262485377 -1262485377 -1262485377))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $v (v128.load (local.get $x)))
        ;; z = −2u = −2·√(2/π)·x·(1 + 0.044715·x²), clamped; s = 1 / (1 + exp(z))
        (local.set $z (f32x4.min (f32x4.max
          (f32x4.mul (f32x4.mul (local.get $v) (local.get $minus_2c))
            (f32x4.add (local.get $one) (f32x4.mul (local.get $cubic) (f32x4.mul (local.get $v) (local.get $v)))))
          (local.get $z_min)) (local.get $z_max)))
        (local.set $t (f32x4.add (f32x4.mul (local.get $z) (local.get $log2e)) (local.get $round)))
        (local.set $k (f32x4.sub (local.get $t) (local.get $round)))
        (local.set $r (f32x4.sub (local.get $z) (f32x4.mul (local.get $k) (local.get $ln2_hi))))
        (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $k) (local.get $ln2_lo))))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p0) (local.get $r)) (local.get $p1)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (local.get $p2)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (local.get $p3)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (local.get $p4)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (local.get $p5)))
        (local.set $p (f32x4.add (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r)) (local.get $one)))
        (local.set $p (f32x4.mul (local.get $p) (i32x4.shl (i32x4.add (local.get $t) (local.get $exponent)) (i32.const 23))))
        (local.set $s (f32x4.div (local.get $one) (f32x4.add (local.get $one) (local.get $p))))
        ;; far from 0 the slope is exactly 0 or 1 (also where x² overflows)
        (local.set $far (f32x4.ge (f32x4.abs (local.get $v)) (local.get $far_x)))
        (local.set $pos (f32x4.gt (local.get $v) (local.get $zero)))
        (v128.store (local.get $out) (v128.bitselect (v128.and (local.get $v) (local.get $pos))
          (f32x4.mul (local.get $v) (local.get $s)) (local.get $far)))
        ;; slope s + 2·x·s·(1 − s)·du/dx with du/dx = √(2/π)·(1 + 3·0.044715·x²)
        (if (local.get $with_slope) (then
          (v128.store (local.get $slope) (v128.bitselect (v128.and (local.get $one) (local.get $pos))
            (f32x4.add (local.get $s)
              (f32x4.mul
                (f32x4.mul (f32x4.mul (local.get $two) (local.get $v)) (local.get $s))
                (f32x4.mul (f32x4.sub (local.get $one) (local.get $s))
                  (f32x4.mul (local.get $c)
                    (f32x4.add (local.get $one)
                      (f32x4.mul (local.get $cubic3) (f32x4.mul (local.get $v) (local.get $v))))))))
            (local.get $far)))
          (local.set $slope (i32.add (local.get $slope) (i32.const 16)))))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $next))))
)
