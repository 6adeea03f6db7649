;; Tensor values to 8-bit pixels, the kernel of toImages in src/image.ts and
;; bit-identical to its JavaScript: v = (x + 1) · 127.5 in binary64, then 0 for
;; v ≤ 0 (and NaN), 255 for v ≥ 255, else floor(v + 0.5).

(module
  ;; the constants of $scale at bytes 0–47 (a load is cheaper than V8's
  ;; rebuilt v128.const), the caller's buffers from byte 64 on
  (memory (export "memory") 1)
  (start $constants)
  (func $constants
    (v128.store offset=0 (i32.const 0) (v128.const f64x2 1 1))
    (v128.store offset=16 (i32.const 0) (v128.const f64x2 127.5 127.5))
    (v128.store offset=32 (i32.const 0) (v128.const f64x2 0.5 0.5)))

  ;; Four float32 values at $at as bytes 0–3 of an i32x4 (before saturation).
  (func $quad (param $at i32) (result v128)
    (local $v v128)
    (local.set $v (v128.load (local.get $at)))
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
      (i32x4.trunc_sat_f64x2_s_zero (call $scale (f64x2.promote_low_f32x4 (local.get $v))))
      (i32x4.trunc_sat_f64x2_s_zero
        (call $scale (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))))))

  ;; (x + 1) · 127.5 + 0.5
  (func $scale (param $x v128) (result v128)
    (f64x2.add
      (f64x2.mul (f64x2.add (local.get $x) (v128.load offset=0 (i32.const 0)))
        (v128.load offset=16 (i32.const 0)))
      (v128.load offset=32 (i32.const 0))))

  ;; Bytes of the `count` (a multiple of 16) float32 values at $in, to $out in
  ;; the same order. Truncation and the two saturating narrowings clamp to 0–255.
  (func (export "convert") (param $in i32) (param $out i32) (param $count i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $out) (local.get $count)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (v128.store (local.get $out)
          (i8x16.narrow_i16x8_u
            (i16x8.narrow_i32x4_s (call $quad (local.get $in)) (call $quad (i32.add (local.get $in) (i32.const 16))))
            (i16x8.narrow_i32x4_s (call $quad (i32.add (local.get $in) (i32.const 32)))
              (call $quad (i32.add (local.get $in) (i32.const 48))))))
        (local.set $in (i32.add (local.get $in) (i32.const 64)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $next))))

  ;; Planar bytes at $in ([images, channels, plane]) to interleaved pixels at
  ;; $out ([images, plane, channels]). Three channels with a plane that is a
  ;; multiple of 16 take 16 pixels per step; anything else goes byte by byte.
  (func (export "interleave") (param $in i32) (param $out i32) (param $images i32)
    (param $channels i32) (param $plane i32)
    (local $image i32) (local $c i32) (local $p i32) (local $end i32)
    (local $r v128) (local $g v128) (local $b v128)
    (if (i32.and (i32.eq (local.get $channels) (i32.const 3))
          (i32.eqz (i32.and (local.get $plane) (i32.const 15))))
      (then
        (local.set $end (i32.add (local.get $in) (i32.mul (local.get $images) (i32.mul (local.get $plane) (i32.const 3)))))
        (block $done
          (loop $image
            (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
            (local.set $p (i32.const 0))
            (loop $pixels
              (local.set $r (v128.load (i32.add (local.get $in) (local.get $p))))
              (local.set $g (v128.load (i32.add (i32.add (local.get $in) (local.get $plane)) (local.get $p))))
              (local.set $b (v128.load (i32.add (i32.add (local.get $in) (i32.shl (local.get $plane) (i32.const 1))) (local.get $p))))
              ;; r0 g0 b0 r1 g1 b1 … in three vectors
              (v128.store offset=0 (local.get $out)
                (i8x16.shuffle 0 1 16 3 4 17 6 7 18 9 10 19 12 13 20 15
                  (i8x16.shuffle 0 16 0 1 17 0 2 18 0 3 19 0 4 20 0 5 (local.get $r) (local.get $g))
                  (local.get $b)))
              (v128.store offset=16 (local.get $out)
                (i8x16.shuffle 0 21 2 3 22 5 6 23 8 9 24 11 12 25 14 15
                  (i8x16.shuffle 21 0 6 22 0 7 23 0 8 24 0 9 25 0 10 26 (local.get $r) (local.get $g))
                  (local.get $b)))
              (v128.store offset=32 (local.get $out)
                (i8x16.shuffle 26 1 2 27 4 5 28 7 8 29 10 11 30 13 14 31
                  (i8x16.shuffle 0 11 27 0 12 28 0 13 29 0 14 30 0 15 31 0 (local.get $r) (local.get $g))
                  (local.get $b)))
              (local.set $out (i32.add (local.get $out) (i32.const 48)))
              (br_if $pixels (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 16))) (local.get $plane))))
            (local.set $in (i32.add (local.get $in) (i32.mul (local.get $plane) (i32.const 3))))
            (br $image))))
      (else
        (loop $image
          (if (i32.lt_u (local.get $image) (local.get $images))
            (then
              (local.set $p (i32.const 0))
              (loop $pixels
                (if (i32.lt_u (local.get $p) (local.get $plane))
                  (then
                    (local.set $c (i32.const 0))
                    (loop $channels
                      (if (i32.lt_u (local.get $c) (local.get $channels))
                        (then
                          (i32.store8 (local.get $out)
                            (i32.load8_u (i32.add (local.get $in)
                              (i32.add (i32.mul (local.get $c) (local.get $plane)) (local.get $p)))))
                          (local.set $out (i32.add (local.get $out) (i32.const 1)))
                          (local.set $c (i32.add (local.get $c) (i32.const 1)))
                          (br $channels))))
                    (local.set $p (i32.add (local.get $p) (i32.const 1)))
                    (br $pixels))))
              (local.set $in (i32.add (local.get $in) (i32.mul (local.get $plane) (local.get $channels))))
              (local.set $image (i32.add (local.get $image) (i32.const 1)))
              (br $image)))))))
)
