;; Philox4x32-10 + Box–Muller normals, bit-identical to src/rng.ts.
;;
;; Every operation mirrors the JavaScript reference in order: IEEE-754
;; doubles, no fused multiply–add, and the series coefficients read from
;; memory, where src/wasm/normals.ts writes the same Float64Array tables that
;; rng.ts uses. Build: `deno task build-wasm` (writes normals_wasm.ts).

(module
  ;; f64 constants at byte 0 (the table of rng.ts), then Philox words (16
  ;; bytes per block), then the normals: 4 pages hold 4096 blocks as f64.
  (memory (export "memory") 4)
  (global $WORDS i32 (i32.const 512))
  (global $OUTPUT (export "output") i32 (i32.const 66048))
  (global $LOG i32 (i32.const 8))      ;; 11 log-series reciprocals, after 1/23 at 0
  (global $SIN i32 (i32.const 96))     ;; 8 sine-series reciprocals
  (global $COS i32 (i32.const 160))    ;; 9 cosine-series reciprocals
  (global $HALF_PI i32 (i32.const 232))
  (global $SQRT2 i32 (i32.const 240))
  (global $LN2_HI i32 (i32.const 248))
  (global $LN2_LO i32 (i32.const 256))

  ;; m and exponent of ln u for u = (w + 0.5) / 2^32 (logUniform in rng.ts):
  ;; u = m·2^exponent with m in (1/√2, √2]; returns m, leaves the exponent in $e.
  (global $e (mut i32) (i32.const 0))
  (func $mantissa (param $w i32) (result f64)
    (local $k i32) (local $m f64) (local $high i32)
    (local.set $k (i32.sub (i32.const 31) (i32.clz (local.get $w))))
    ;; (w + 0.5) · 2^−k, the power of two built from its exponent bits; 1 for
    ;; w = 0 (k = −1). Selects, not branches: the branches are coin flips.
    (local.set $m
      (select
        (f64.const 1)
        (f64.mul
          (f64.add (f64.convert_i32_u (local.get $w)) (f64.const 0.5))
          (f64.reinterpret_i64
            (i64.shl (i64.extend_i32_u (i32.sub (i32.const 1023) (local.get $k)))
              (i64.const 52))))
        (i32.lt_s (local.get $k) (i32.const 0))))
    (local.set $high (f64.gt (local.get $m) (f64.load (global.get $SQRT2))))
    (global.set $e (i32.add (i32.sub (local.get $k) (i32.const 32)) (local.get $high)))
    (select (f64.div (local.get $m) (f64.const 2)) (local.get $m) (local.get $high)))

  ;; The series of sinSmall (table $SIN, 8 terms) or cosSmall (table $COS, 9)
  ;; on two independent vectors at once, so the two multiply chains overlap.
  (func $series (param $x2a v128) (param $x2b v128) (param $table i32) (param $terms i32)
    (result v128 v128)
    (local $a v128) (local $b v128) (local $c v128) (local $i i32)
    (local.set $a (f64x2.splat (f64.const 1)))
    (local.set $b (local.get $a))
    (loop $next
      (local.set $c
        (v128.load64_splat (i32.add (local.get $table) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $a
        (f64x2.sub (f64x2.splat (f64.const 1))
          (f64x2.mul (f64x2.mul (local.get $x2a) (local.get $c)) (local.get $a))))
      (local.set $b
        (f64x2.sub (f64x2.splat (f64.const 1))
          (f64x2.mul (f64x2.mul (local.get $x2b) (local.get $c)) (local.get $b))))
      (br_if $next
        (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $terms))))
    (local.get $a)
    (local.get $b))

  ;; The eight normals of two blocks' words at $in (16 bytes each): Box–Muller
  ;; pairs on f64x2 lanes (lane 0: words 0, 1; lane 1: words 2, 3), block a
  ;; and block b side by side so their serial chains overlap; stored at $at as
  ;; f32 or f64 in stream order.
  (func $boxMuller (param $in i32) (param $at i32) (param $f32 i32)
    (local $i i32) (local $c v128) (local $q v128)
    (local $ma v128) (local $mb v128)
    (local $exponenta v128) (local $exponentb v128)
    (local $fa v128) (local $fb v128)
    (local $f2a v128) (local $f2b v128)
    (local $seriesa v128) (local $seriesb v128)
    (local $radiusa v128) (local $radiusb v128)
    (local $quarterTurnsa v128) (local $quarterTurnsb v128)
    (local $quadranta v128) (local $quadrantb v128)
    (local $ra v128) (local $rb v128)
    (local $neara v128) (local $nearb v128)
    (local $anglea v128) (local $angleb v128)
    (local $x2a v128) (local $x2b v128)
    (local $sina v128) (local $sinb v128)
    (local $cosa v128) (local $cosb v128)
    (local $cca v128) (local $ccb v128)
    (local $ssa v128) (local $ssb v128)
    (local $cosAa v128) (local $cosAb v128)
    (local $sinAa v128) (local $sinAb v128)
    ;; radius = sqrt(−2 ln u1), from the mantissas and exponents of u1
    (local.set $ma (f64x2.splat (call $mantissa (i32.load offset=0 (local.get $in)))))
    (local.set $exponenta (f64x2.splat (f64.convert_i32_s (global.get $e))))
    (local.set $ma
      (f64x2.replace_lane 1 (local.get $ma) (call $mantissa (i32.load offset=8 (local.get $in)))))
    (local.set $exponenta
      (f64x2.replace_lane 1 (local.get $exponenta) (f64.convert_i32_s (global.get $e))))
    (local.set $mb (f64x2.splat (call $mantissa (i32.load offset=16 (local.get $in)))))
    (local.set $exponentb (f64x2.splat (f64.convert_i32_s (global.get $e))))
    (local.set $mb
      (f64x2.replace_lane 1 (local.get $mb) (call $mantissa (i32.load offset=24 (local.get $in)))))
    (local.set $exponentb
      (f64x2.replace_lane 1 (local.get $exponentb) (f64.convert_i32_s (global.get $e))))
    (local.set $fa
      (f64x2.div (f64x2.sub (local.get $ma) (f64x2.splat (f64.const 1)))
        (f64x2.add (local.get $ma) (f64x2.splat (f64.const 1)))))
    (local.set $fb
      (f64x2.div (f64x2.sub (local.get $mb) (f64x2.splat (f64.const 1)))
        (f64x2.add (local.get $mb) (f64x2.splat (f64.const 1)))))
    (local.set $f2a (f64x2.mul (local.get $fa) (local.get $fa)))
    (local.set $f2b (f64x2.mul (local.get $fb) (local.get $fb)))
    (local.set $seriesa (v128.load64_splat (i32.const 0)))
    (local.set $seriesb (v128.load64_splat (i32.const 0)))
    (loop $terms
      (local.set $c
        (v128.load64_splat (i32.add (global.get $LOG) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $seriesa (f64x2.add (local.get $c) (f64x2.mul (local.get $f2a) (local.get $seriesa))))
      (local.set $seriesb (f64x2.add (local.get $c) (f64x2.mul (local.get $f2b) (local.get $seriesb))))
      (br_if $terms (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 11))))
    (local.set $radiusa
      (f64x2.sqrt
        (f64x2.mul (f64x2.splat (f64.const -2))
          (f64x2.add
            (f64x2.mul (local.get $exponenta) (v128.load64_splat (global.get $LN2_HI)))
            (f64x2.add
              (f64x2.mul (f64x2.mul (f64x2.splat (f64.const 2)) (local.get $fa))
                (local.get $seriesa))
              (f64x2.mul (local.get $exponenta) (v128.load64_splat (global.get $LN2_LO))))))))
    (local.set $radiusb
      (f64x2.sqrt
        (f64x2.mul (f64x2.splat (f64.const -2))
          (f64x2.add
            (f64x2.mul (local.get $exponentb) (v128.load64_splat (global.get $LN2_HI)))
            (f64x2.add
              (f64x2.mul (f64x2.mul (f64x2.splat (f64.const 2)) (local.get $fb))
                (local.get $seriesb))
              (f64x2.mul (local.get $exponentb) (v128.load64_splat (global.get $LN2_LO))))))))
    ;; angle 2π·u2 as a quadrant and a reduced angle in [0, π/4]
    (local.set $quarterTurnsa
      (f64x2.mul
        (f64x2.div
          (f64x2.convert_low_i32x4_u
            (i32x4.replace_lane 1 (i32x4.splat (i32.load offset=4 (local.get $in)))
              (i32.load offset=12 (local.get $in))))
          (f64x2.splat (f64.const 4294967296)))
        (f64x2.splat (f64.const 4))))
    (local.set $quarterTurnsb
      (f64x2.mul
        (f64x2.div
          (f64x2.convert_low_i32x4_u
            (i32x4.replace_lane 1 (i32x4.splat (i32.load offset=20 (local.get $in)))
              (i32.load offset=28 (local.get $in))))
          (f64x2.splat (f64.const 4294967296)))
        (f64x2.splat (f64.const 4))))
    (local.set $quadranta (f64x2.floor (local.get $quarterTurnsa)))
    (local.set $quadrantb (f64x2.floor (local.get $quarterTurnsb)))
    (local.set $ra (f64x2.sub (local.get $quarterTurnsa) (local.get $quadranta)))
    (local.set $rb (f64x2.sub (local.get $quarterTurnsb) (local.get $quadrantb)))
    (local.set $neara (f64x2.le (local.get $ra) (f64x2.splat (f64.const 0.5))))
    (local.set $nearb (f64x2.le (local.get $rb) (f64x2.splat (f64.const 0.5))))
    (local.set $anglea
      (f64x2.mul
        (v128.bitselect (local.get $ra) (f64x2.sub (f64x2.splat (f64.const 1)) (local.get $ra))
          (local.get $neara))
        (v128.load64_splat (global.get $HALF_PI))))
    (local.set $angleb
      (f64x2.mul
        (v128.bitselect (local.get $rb) (f64x2.sub (f64x2.splat (f64.const 1)) (local.get $rb))
          (local.get $nearb))
        (v128.load64_splat (global.get $HALF_PI))))
    (local.set $x2a (f64x2.mul (local.get $anglea) (local.get $anglea)))
    (local.set $x2b (f64x2.mul (local.get $angleb) (local.get $angleb)))
    (call $series (local.get $x2a) (local.get $x2b) (global.get $SIN) (i32.const 8))
    (local.set $sinb (f64x2.mul (local.get $angleb)))
    (local.set $sina (f64x2.mul (local.get $anglea)))
    (call $series (local.get $x2a) (local.get $x2b) (global.get $COS) (i32.const 9))
    (local.set $cosb)
    (local.set $cosa)
    (local.set $cca (v128.bitselect (local.get $cosa) (local.get $sina) (local.get $neara)))
    (local.set $ccb (v128.bitselect (local.get $cosb) (local.get $sinb) (local.get $nearb)))
    (local.set $ssa (v128.bitselect (local.get $sina) (local.get $cosa) (local.get $neara)))
    (local.set $ssb (v128.bitselect (local.get $sinb) (local.get $cosb) (local.get $nearb)))
    (local.set $cosAa (local.get $cca))
    (local.set $sinAa (local.get $ssa))
    (local.set $q (f64x2.eq (local.get $quadranta) (f64x2.splat (f64.const 1))))
    (local.set $cosAa (v128.bitselect (f64x2.neg (local.get $ssa)) (local.get $cosAa) (local.get $q)))
    (local.set $sinAa (v128.bitselect (local.get $cca) (local.get $sinAa) (local.get $q)))
    (local.set $q (f64x2.eq (local.get $quadranta) (f64x2.splat (f64.const 2))))
    (local.set $cosAa (v128.bitselect (f64x2.neg (local.get $cca)) (local.get $cosAa) (local.get $q)))
    (local.set $sinAa (v128.bitselect (f64x2.neg (local.get $ssa)) (local.get $sinAa) (local.get $q)))
    (local.set $q (f64x2.eq (local.get $quadranta) (f64x2.splat (f64.const 3))))
    (local.set $cosAa (v128.bitselect (local.get $ssa) (local.get $cosAa) (local.get $q)))
    (local.set $sinAa (v128.bitselect (f64x2.neg (local.get $cca)) (local.get $sinAa) (local.get $q)))
    (local.set $cosAa (f64x2.mul (local.get $radiusa) (local.get $cosAa)))
    (local.set $sinAa (f64x2.mul (local.get $radiusa) (local.get $sinAa)))
    (local.set $cosAb (local.get $ccb))
    (local.set $sinAb (local.get $ssb))
    (local.set $q (f64x2.eq (local.get $quadrantb) (f64x2.splat (f64.const 1))))
    (local.set $cosAb (v128.bitselect (f64x2.neg (local.get $ssb)) (local.get $cosAb) (local.get $q)))
    (local.set $sinAb (v128.bitselect (local.get $ccb) (local.get $sinAb) (local.get $q)))
    (local.set $q (f64x2.eq (local.get $quadrantb) (f64x2.splat (f64.const 2))))
    (local.set $cosAb (v128.bitselect (f64x2.neg (local.get $ccb)) (local.get $cosAb) (local.get $q)))
    (local.set $sinAb (v128.bitselect (f64x2.neg (local.get $ssb)) (local.get $sinAb) (local.get $q)))
    (local.set $q (f64x2.eq (local.get $quadrantb) (f64x2.splat (f64.const 3))))
    (local.set $cosAb (v128.bitselect (local.get $ssb) (local.get $cosAb) (local.get $q)))
    (local.set $sinAb (v128.bitselect (f64x2.neg (local.get $ccb)) (local.get $sinAb) (local.get $q)))
    (local.set $cosAb (f64x2.mul (local.get $radiusb) (local.get $cosAb)))
    (local.set $sinAb (f64x2.mul (local.get $radiusb) (local.get $sinAb)))
    ;; store in stream order: cos₀ sin₀ cos₁ sin₁ of block a, then of block b
    (if (local.get $f32)
      (then
        (v128.store offset=0 (local.get $at)
          (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
            (f32x4.demote_f64x2_zero (local.get $cosAa))
            (f32x4.demote_f64x2_zero (local.get $sinAa))))
        (v128.store offset=16 (local.get $at)
          (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
            (f32x4.demote_f64x2_zero (local.get $cosAb))
            (f32x4.demote_f64x2_zero (local.get $sinAb)))))
      (else
        (v128.store offset=0 (local.get $at)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (local.get $cosAa) (local.get $sinAa)))
        (v128.store offset=16 (local.get $at)
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31
            (local.get $cosAa) (local.get $sinAa)))
        (v128.store offset=32 (local.get $at)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (local.get $cosAb) (local.get $sinAb)))
        (v128.store offset=48 (local.get $at)
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31
            (local.get $cosAb) (local.get $sinAb))))))

  ;; Normals of `blocks` (at most 4096) consecutive Philox blocks of key
  ;; (k0, k1) and stream (s0, s1), from block (b0 + 2^32·b1), written from byte
  ;; $OUTPUT on as f32 (`f32` ≠ 0) or f64 values, four per block. Two passes
  ;; (all words, then all normals) keep each loop small, so the CPU overlaps
  ;; the serial multiply chains of consecutive blocks. Normals are made two
  ;; blocks at a time: an odd count also writes the block after the last,
  ;; which the caller does not read.
  (func (export "fill") (param $k0 i32) (param $k1 i32) (param $s0 i32) (param $s1 i32)
    (param $b0 i32) (param $b1 i32) (param $blocks i32) (param $f32 i32)
    (local $c0 i32) (local $c1 i32) (local $c2 i32) (local $c3 i32)
    (local $key0 i32) (local $key1 i32) (local $p0 i64) (local $p1 i64)
    (local $round i32) (local $at i32) (local $end i32) (local $out i32) (local $width i32)
    (local.set $end (i32.add (global.get $WORDS) (i32.shl (local.get $blocks) (i32.const 4))))
    (local.set $at (global.get $WORDS))
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $c0 (local.get $b0))
        (local.set $c1 (local.get $b1))
        (local.set $c2 (local.get $s0))
        (local.set $c3 (local.get $s1))
        (local.set $key0 (local.get $k0))
        (local.set $key1 (local.get $k1))
        (local.set $round (i32.const 0))
        (loop $rounds
          (local.set $p0 (i64.mul (i64.const 0xd2511f53) (i64.extend_i32_u (local.get $c0))))
          (local.set $p1 (i64.mul (i64.const 0xcd9e8d57) (i64.extend_i32_u (local.get $c2))))
          (local.set $c0
            (i32.xor (i32.xor (i32.wrap_i64 (i64.shr_u (local.get $p1) (i64.const 32)))
              (local.get $c1)) (local.get $key0)))
          (local.set $c1 (i32.wrap_i64 (local.get $p1)))
          (local.set $c2
            (i32.xor (i32.xor (i32.wrap_i64 (i64.shr_u (local.get $p0) (i64.const 32)))
              (local.get $c3)) (local.get $key1)))
          (local.set $c3 (i32.wrap_i64 (local.get $p0)))
          (local.set $key0 (i32.add (local.get $key0) (i32.const 0x9e3779b9)))
          (local.set $key1 (i32.add (local.get $key1) (i32.const 0xbb67ae85)))
          (br_if $rounds
            (i32.lt_u (local.tee $round (i32.add (local.get $round) (i32.const 1))) (i32.const 10))))
        (i32.store (local.get $at) (local.get $c0))
        (i32.store offset=4 (local.get $at) (local.get $c1))
        (i32.store offset=8 (local.get $at) (local.get $c2))
        (i32.store offset=12 (local.get $at) (local.get $c3))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        ;; next 64-bit block counter
        (local.set $b0 (i32.add (local.get $b0) (i32.const 1)))
        (if (i32.eqz (local.get $b0)) (then (local.set $b1 (i32.add (local.get $b1) (i32.const 1)))))
        (br $block)))
    (local.set $width (select (i32.const 16) (i32.const 32) (local.get $f32)))
    (local.set $out (global.get $OUTPUT))
    (local.set $at (global.get $WORDS))
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (call $boxMuller (local.get $at) (local.get $out) (local.get $f32))
        (local.set $at (i32.add (local.get $at) (i32.const 32)))
        (local.set $out (i32.add (local.get $out) (i32.shl (local.get $width) (i32.const 1))))
        (br $block))))
)
