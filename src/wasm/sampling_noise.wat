;; Sampling noise: Philox4x32-10 words → float32 Box–Muller normals, eight
;; Philox blocks per iteration (two groups of four SIMD lanes). Bit-identical to the JavaScript
;; reference `samplingNormals` in src/noise.ts: every float operation is an
;; IEEE-754 binary32 +, −, ×, ÷ or √ in the same order (no fused multiply–add).
;; Build: `deno task build-wasm` (writes sampling_noise_wasm.ts).

(module
  ;; the constants below at bytes 0–1023 (V8 rebuilds a v128.const at every
  ;; use, a load is one instruction), then the normals of up to 16384 blocks
  (memory (export "memory") 5)
  (global $OUTPUT (export "output") i32 (i32.const 1024))
  (start $constants)
  (func $constants
    (v128.store offset=0 (i32.const 0) (v128.const i32x4 0 1 2 3))
    (v128.store offset=16 (i32.const 0) (v128.const i32x4 4 5 6 7))
    (v128.store offset=32 (i32.const 0) (v128.const i32x4 0xd2511f53 0xd2511f53 0xd2511f53 0xd2511f53))
    (v128.store offset=48 (i32.const 0) (v128.const i32x4 0xcd9e8d57 0xcd9e8d57 0xcd9e8d57 0xcd9e8d57))
    (v128.store offset=64 (i32.const 0) (v128.const i32x4 0x9e3779b9 0x9e3779b9 0x9e3779b9 0x9e3779b9))
    (v128.store offset=80 (i32.const 0) (v128.const i32x4 0xbb67ae85 0xbb67ae85 0xbb67ae85 0xbb67ae85))
    (v128.store offset=96 (i32.const 0) (v128.const i32x4 1 1 1 1))
    (v128.store offset=112 (i32.const 0) (v128.const f32x4 0x1p-31 0x1p-31 0x1p-31 0x1p-31))
    (v128.store offset=128 (i32.const 0) (v128.const i32x4 127 127 127 127))
    (v128.store offset=144 (i32.const 0) (v128.const i32x4 0x7fffff 0x7fffff 0x7fffff 0x7fffff))
    (v128.store offset=160 (i32.const 0) (v128.const f32x4 1 1 1 1))
    (v128.store offset=176 (i32.const 0) (v128.const f32x4 0x1.6a09e6p+0 0x1.6a09e6p+0 0x1.6a09e6p+0 0x1.6a09e6p+0))
    (v128.store offset=192 (i32.const 0) (v128.const f32x4 0.5 0.5 0.5 0.5))
    (v128.store offset=208 (i32.const 0) (v128.const f32x4 0x1.24924ap-3 0x1.24924ap-3 0x1.24924ap-3 0x1.24924ap-3))
    (v128.store offset=224 (i32.const 0) (v128.const f32x4 0x1.c71c72p-4 0x1.c71c72p-4 0x1.c71c72p-4 0x1.c71c72p-4))
    (v128.store offset=240 (i32.const 0) (v128.const f32x4 0x1.99999ap-3 0x1.99999ap-3 0x1.99999ap-3 0x1.99999ap-3))
    (v128.store offset=256 (i32.const 0) (v128.const f32x4 0x1.555556p-2 0x1.555556p-2 0x1.555556p-2 0x1.555556p-2))
    (v128.store offset=272 (i32.const 0) (v128.const f32x4 -2 -2 -2 -2))
    (v128.store offset=288 (i32.const 0) (v128.const f32x4 0x1.62e430p-1 0x1.62e430p-1 0x1.62e430p-1 0x1.62e430p-1))
    (v128.store offset=304 (i32.const 0) (v128.const i32x4 0x3fffff 0x3fffff 0x3fffff 0x3fffff))
    (v128.store offset=320 (i32.const 0) (v128.const f32x4 0x1p-22 0x1p-22 0x1p-22 0x1p-22))
    (v128.store offset=336 (i32.const 0) (v128.const f32x4 0x1.921fb6p+0 0x1.921fb6p+0 0x1.921fb6p+0 0x1.921fb6p+0))
    (v128.store offset=352 (i32.const 0) (v128.const f32x4 -0x1.a01a02p-13 -0x1.a01a02p-13 -0x1.a01a02p-13 -0x1.a01a02p-13))
    (v128.store offset=368 (i32.const 0) (v128.const f32x4 0x1.71de3ap-19 0x1.71de3ap-19 0x1.71de3ap-19 0x1.71de3ap-19))
    (v128.store offset=384 (i32.const 0) (v128.const f32x4 0x1.111112p-7 0x1.111112p-7 0x1.111112p-7 0x1.111112p-7))
    (v128.store offset=400 (i32.const 0) (v128.const f32x4 -0x1.555556p-3 -0x1.555556p-3 -0x1.555556p-3 -0x1.555556p-3))
    (v128.store offset=416 (i32.const 0) (v128.const f32x4 0x1.a01a02p-16 0x1.a01a02p-16 0x1.a01a02p-16 0x1.a01a02p-16))
    (v128.store offset=432 (i32.const 0) (v128.const f32x4 -0x1.27e4fcp-22 -0x1.27e4fcp-22 -0x1.27e4fcp-22 -0x1.27e4fcp-22))
    (v128.store offset=448 (i32.const 0) (v128.const f32x4 -0x1.6c16c2p-10 -0x1.6c16c2p-10 -0x1.6c16c2p-10 -0x1.6c16c2p-10))
    (v128.store offset=464 (i32.const 0) (v128.const f32x4 0x1.555556p-5 0x1.555556p-5 0x1.555556p-5 0x1.555556p-5))
    (v128.store offset=480 (i32.const 0) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5))
    (v128.store offset=496 (i32.const 0) (v128.const i32x4 0x40000000 0x40000000 0x40000000 0x40000000))
    (v128.store offset=512 (i32.const 0) (v128.const i32x4 0 0 0 0))
    (v128.store offset=528 (i32.const 0) (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000)))

  ;; Philox4x32-10 of eight consecutive counters b … b+7 (c0 lanes, carrying
  ;; into c1) under key (k0, k1), counter words 2–3 = (s0, s1), as two groups
  ;; of four whose multiply chains interleave. Returns word 0, 1, 2, 3 of
  ;; blocks b … b+3, then of blocks b+4 … b+7.
  (func $philox (param $b0 i32) (param $b1 i32) (param $s0 i32) (param $s1 i32)
    (param $k0 i32) (param $k1 i32) (result v128 v128 v128 v128 v128 v128 v128 v128)
    (local $c0a v128) (local $c1a v128) (local $c2a v128) (local $c3a v128) (local $pla v128) (local $pha v128) (local $qla v128) (local $qha v128) (local $c0b v128) (local $c1b v128) (local $c2b v128) (local $c3b v128) (local $plb v128) (local $phb v128) (local $qlb v128) (local $qhb v128)
    (local $key0 v128) (local $key1 v128) (local $round i32)
    (local.set $c0a (i32x4.add (i32x4.splat (local.get $b0)) (v128.load offset=0 (i32.const 0))))
    (local.set $c1a
      (i32x4.sub (i32x4.splat (local.get $b1))
        (i32x4.lt_u (local.get $c0a) (i32x4.splat (local.get $b0)))))
    (local.set $c2a (i32x4.splat (local.get $s0)))
    (local.set $c3a (i32x4.splat (local.get $s1)))
    (local.set $c0b (i32x4.add (i32x4.splat (local.get $b0)) (v128.load offset=16 (i32.const 0))))
    (local.set $c1b
      (i32x4.sub (i32x4.splat (local.get $b1))
        (i32x4.lt_u (local.get $c0b) (i32x4.splat (local.get $b0)))))
    (local.set $c2b (i32x4.splat (local.get $s0)))
    (local.set $c3b (i32x4.splat (local.get $s1)))
    (local.set $key0 (i32x4.splat (local.get $k0)))
    (local.set $key1 (i32x4.splat (local.get $k1)))
    (loop $rounds
      ;; 64-bit products M0·c0 (pl, ph) and M1·c2 (ql, qh); words: hi or lo halves
      (local.set $pla (i64x2.extmul_low_i32x4_u (local.get $c0a) (v128.load offset=32 (i32.const 0))))
      (local.set $pha (i64x2.extmul_high_i32x4_u (local.get $c0a) (v128.load offset=32 (i32.const 0))))
      (local.set $qla (i64x2.extmul_low_i32x4_u (local.get $c2a) (v128.load offset=48 (i32.const 0))))
      (local.set $qha (i64x2.extmul_high_i32x4_u (local.get $c2a) (v128.load offset=48 (i32.const 0))))
      (local.set $c0a (v128.xor (v128.xor (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $qla) (local.get $qha)) (local.get $c1a)) (local.get $key0)))
      (local.set $c1a (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $qla) (local.get $qha)))
      (local.set $c2a (v128.xor (v128.xor (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $pla) (local.get $pha)) (local.get $c3a)) (local.get $key1)))
      (local.set $c3a (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $pla) (local.get $pha)))
      (local.set $plb (i64x2.extmul_low_i32x4_u (local.get $c0b) (v128.load offset=32 (i32.const 0))))
      (local.set $phb (i64x2.extmul_high_i32x4_u (local.get $c0b) (v128.load offset=32 (i32.const 0))))
      (local.set $qlb (i64x2.extmul_low_i32x4_u (local.get $c2b) (v128.load offset=48 (i32.const 0))))
      (local.set $qhb (i64x2.extmul_high_i32x4_u (local.get $c2b) (v128.load offset=48 (i32.const 0))))
      (local.set $c0b (v128.xor (v128.xor (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $qlb) (local.get $qhb)) (local.get $c1b)) (local.get $key0)))
      (local.set $c1b (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $qlb) (local.get $qhb)))
      (local.set $c2b (v128.xor (v128.xor (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $plb) (local.get $phb)) (local.get $c3b)) (local.get $key1)))
      (local.set $c3b (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $plb) (local.get $phb)))
      (local.set $key0 (i32x4.add (local.get $key0) (v128.load offset=64 (i32.const 0))))
      (local.set $key1 (i32x4.add (local.get $key1) (v128.load offset=80 (i32.const 0))))
      (br_if $rounds (i32.lt_u (local.tee $round (i32.add (local.get $round) (i32.const 1))) (i32.const 10))))
    (local.get $c0a) (local.get $c1a) (local.get $c2a) (local.get $c3a)
    (local.get $c0b) (local.get $c1b) (local.get $c2b) (local.get $c3b))

  ;; Box–Muller on two sets of four lanes, a and b, interleaved so their serial
  ;; chains overlap: radius √(−2 ln u) from word $w1, angle 2π·v from word $w2;
  ;; returns (radius·cos, radius·sin) of a, then of b. See boxMuller32 in noise.ts.
  (func $boxMuller (param $w1a v128) (param $w2a v128) (param $w1b v128) (param $w2b v128)
    (result v128 v128 v128 v128)
    (local $ua v128) (local $ea v128) (local $ma v128) (local $biga v128) (local $fa v128) (local $f2a v128) (local $pa v128) (local $radiusa v128) (local $ra v128) (local $neara v128) (local $xa v128) (local $x2a v128) (local $sina v128) (local $cosa v128) (local $samea v128) (local $ub v128) (local $eb v128) (local $mb v128) (local $bigb v128) (local $fb v128) (local $f2b v128) (local $pb v128) (local $radiusb v128) (local $rb v128) (local $nearb v128) (local $xb v128) (local $x2b v128) (local $sinb v128) (local $cosb v128) (local $sameb v128)
    (local.set $ua
      (f32x4.mul
        (f32x4.convert_i32x4_s (v128.or (i32x4.shr_u (local.get $w1a) (i32.const 1)) (v128.load offset=96 (i32.const 0))))
        (v128.load offset=112 (i32.const 0))))
    (local.set $ub
      (f32x4.mul
        (f32x4.convert_i32x4_s (v128.or (i32x4.shr_u (local.get $w1b) (i32.const 1)) (v128.load offset=96 (i32.const 0))))
        (v128.load offset=112 (i32.const 0))))
    ;; u = m · 2^e with m in (1/√2, √2]
    (local.set $ea (i32x4.sub (i32x4.shr_u (local.get $ua) (i32.const 23)) (v128.load offset=128 (i32.const 0))))
    (local.set $eb (i32x4.sub (i32x4.shr_u (local.get $ub) (i32.const 23)) (v128.load offset=128 (i32.const 0))))
    (local.set $ma
      (v128.or (v128.and (local.get $ua) (v128.load offset=144 (i32.const 0)))
        (v128.load offset=160 (i32.const 0))))
    (local.set $mb
      (v128.or (v128.and (local.get $ub) (v128.load offset=144 (i32.const 0)))
        (v128.load offset=160 (i32.const 0))))
    (local.set $biga (f32x4.gt (local.get $ma) (v128.load offset=176 (i32.const 0))))
    (local.set $bigb (f32x4.gt (local.get $mb) (v128.load offset=176 (i32.const 0))))
    (local.set $ma (v128.bitselect (f32x4.mul (local.get $ma) (v128.load offset=192 (i32.const 0))) (local.get $ma) (local.get $biga)))
    (local.set $mb (v128.bitselect (f32x4.mul (local.get $mb) (v128.load offset=192 (i32.const 0))) (local.get $mb) (local.get $bigb)))
    (local.set $ea (i32x4.sub (local.get $ea) (local.get $biga)))
    (local.set $eb (i32x4.sub (local.get $eb) (local.get $bigb)))
    ;; ln m = 2f(1 + f²/3 + f⁴/5 + f⁶/7 + f⁸/9), f = (m − 1)/(m + 1)
    (local.set $fa
      (f32x4.div (f32x4.sub (local.get $ma) (v128.load offset=160 (i32.const 0)))
        (f32x4.add (local.get $ma) (v128.load offset=160 (i32.const 0)))))
    (local.set $fb
      (f32x4.div (f32x4.sub (local.get $mb) (v128.load offset=160 (i32.const 0)))
        (f32x4.add (local.get $mb) (v128.load offset=160 (i32.const 0)))))
    (local.set $f2a (f32x4.mul (local.get $fa) (local.get $fa)))
    (local.set $f2b (f32x4.mul (local.get $fb) (local.get $fb)))
    (local.set $pa (f32x4.add (v128.load offset=208 (i32.const 0))
      (f32x4.mul (local.get $f2a) (v128.load offset=224 (i32.const 0)))))
    (local.set $pb (f32x4.add (v128.load offset=208 (i32.const 0))
      (f32x4.mul (local.get $f2b) (v128.load offset=224 (i32.const 0)))))
    (local.set $pa (f32x4.add (v128.load offset=240 (i32.const 0))
      (f32x4.mul (local.get $f2a) (local.get $pa))))
    (local.set $pb (f32x4.add (v128.load offset=240 (i32.const 0))
      (f32x4.mul (local.get $f2b) (local.get $pb))))
    (local.set $pa (f32x4.add (v128.load offset=256 (i32.const 0))
      (f32x4.mul (local.get $f2a) (local.get $pa))))
    (local.set $pb (f32x4.add (v128.load offset=256 (i32.const 0))
      (f32x4.mul (local.get $f2b) (local.get $pb))))
    (local.set $pa (f32x4.add (v128.load offset=160 (i32.const 0)) (f32x4.mul (local.get $f2a) (local.get $pa))))
    (local.set $pb (f32x4.add (v128.load offset=160 (i32.const 0)) (f32x4.mul (local.get $f2b) (local.get $pb))))
    (local.set $radiusa
      (f32x4.sqrt
        (f32x4.mul (v128.load offset=272 (i32.const 0))
          (f32x4.add
            (f32x4.mul (f32x4.convert_i32x4_s (local.get $ea)) (v128.load offset=288 (i32.const 0)))
            (f32x4.mul (f32x4.add (local.get $fa) (local.get $fa)) (local.get $pa))))))
    (local.set $radiusb
      (f32x4.sqrt
        (f32x4.mul (v128.load offset=272 (i32.const 0))
          (f32x4.add
            (f32x4.mul (f32x4.convert_i32x4_s (local.get $eb)) (v128.load offset=288 (i32.const 0)))
            (f32x4.mul (f32x4.add (local.get $fb) (local.get $fb)) (local.get $pb))))))
    ;; quarter turn q = w2 >>> 30, fraction r of it from the next 22 bits;
    ;; x = min(r, 1 − r) · π/2 in [0, π/4]
    (local.set $ra
      (f32x4.mul
        (f32x4.convert_i32x4_s
          (v128.and (i32x4.shr_u (local.get $w2a) (i32.const 8)) (v128.load offset=304 (i32.const 0))))
        (v128.load offset=320 (i32.const 0))))
    (local.set $rb
      (f32x4.mul
        (f32x4.convert_i32x4_s
          (v128.and (i32x4.shr_u (local.get $w2b) (i32.const 8)) (v128.load offset=304 (i32.const 0))))
        (v128.load offset=320 (i32.const 0))))
    (local.set $neara (f32x4.le (local.get $ra) (v128.load offset=192 (i32.const 0))))
    (local.set $nearb (f32x4.le (local.get $rb) (v128.load offset=192 (i32.const 0))))
    (local.set $xa
      (f32x4.mul
        (v128.bitselect (local.get $ra) (f32x4.sub (v128.load offset=160 (i32.const 0)) (local.get $ra)) (local.get $neara))
        (v128.load offset=336 (i32.const 0))))
    (local.set $xb
      (f32x4.mul
        (v128.bitselect (local.get $rb) (f32x4.sub (v128.load offset=160 (i32.const 0)) (local.get $rb)) (local.get $nearb))
        (v128.load offset=336 (i32.const 0))))
    (local.set $x2a (f32x4.mul (local.get $xa) (local.get $xa)))
    (local.set $x2b (f32x4.mul (local.get $xb) (local.get $xb)))
    ;; Taylor series: sin to x⁹, cos to x¹⁰
    (local.set $pa (f32x4.add (v128.load offset=352 (i32.const 0))
      (f32x4.mul (local.get $x2a) (v128.load offset=368 (i32.const 0)))))
    (local.set $pb (f32x4.add (v128.load offset=352 (i32.const 0))
      (f32x4.mul (local.get $x2b) (v128.load offset=368 (i32.const 0)))))
    (local.set $pa (f32x4.add (v128.load offset=384 (i32.const 0))
      (f32x4.mul (local.get $x2a) (local.get $pa))))
    (local.set $pb (f32x4.add (v128.load offset=384 (i32.const 0))
      (f32x4.mul (local.get $x2b) (local.get $pb))))
    (local.set $pa (f32x4.add (v128.load offset=400 (i32.const 0))
      (f32x4.mul (local.get $x2a) (local.get $pa))))
    (local.set $pb (f32x4.add (v128.load offset=400 (i32.const 0))
      (f32x4.mul (local.get $x2b) (local.get $pb))))
    (local.set $sina (f32x4.add (local.get $xa) (f32x4.mul (f32x4.mul (local.get $xa) (local.get $x2a)) (local.get $pa))))
    (local.set $sinb (f32x4.add (local.get $xb) (f32x4.mul (f32x4.mul (local.get $xb) (local.get $x2b)) (local.get $pb))))
    (local.set $pa (f32x4.add (v128.load offset=416 (i32.const 0))
      (f32x4.mul (local.get $x2a) (v128.load offset=432 (i32.const 0)))))
    (local.set $pb (f32x4.add (v128.load offset=416 (i32.const 0))
      (f32x4.mul (local.get $x2b) (v128.load offset=432 (i32.const 0)))))
    (local.set $pa (f32x4.add (v128.load offset=448 (i32.const 0))
      (f32x4.mul (local.get $x2a) (local.get $pa))))
    (local.set $pb (f32x4.add (v128.load offset=448 (i32.const 0))
      (f32x4.mul (local.get $x2b) (local.get $pb))))
    (local.set $pa (f32x4.add (v128.load offset=464 (i32.const 0))
      (f32x4.mul (local.get $x2a) (local.get $pa))))
    (local.set $pb (f32x4.add (v128.load offset=464 (i32.const 0))
      (f32x4.mul (local.get $x2b) (local.get $pb))))
    (local.set $pa (f32x4.add (v128.load offset=480 (i32.const 0)) (f32x4.mul (local.get $x2a) (local.get $pa))))
    (local.set $pb (f32x4.add (v128.load offset=480 (i32.const 0)) (f32x4.mul (local.get $x2b) (local.get $pb))))
    (local.set $cosa (f32x4.add (v128.load offset=160 (i32.const 0)) (f32x4.mul (local.get $x2a) (local.get $pa))))
    (local.set $cosb (f32x4.add (v128.load offset=160 (i32.const 0)) (f32x4.mul (local.get $x2b) (local.get $pb))))
    ;; cos and sin of the angle trade places when exactly one of "r ≤ ½" and
    ;; "q even" fails; cos is negative for q = 1, 2 and sin for q = 2, 3
    (local.set $samea
      (v128.not (v128.xor (local.get $neara)
        (i32x4.eq (v128.and (local.get $w2a) (v128.load offset=496 (i32.const 0)))
          (v128.load offset=512 (i32.const 0))))))
    (local.set $sameb
      (v128.not (v128.xor (local.get $nearb)
        (i32x4.eq (v128.and (local.get $w2b) (v128.load offset=496 (i32.const 0)))
          (v128.load offset=512 (i32.const 0))))))
    (f32x4.mul (local.get $radiusa)
      (v128.xor (v128.bitselect (local.get $cosa) (local.get $sina) (local.get $samea))
        (v128.and (i32x4.add (local.get $w2a) (v128.load offset=496 (i32.const 0)))
          (v128.load offset=528 (i32.const 0)))))
    (f32x4.mul (local.get $radiusa)
      (v128.xor (v128.bitselect (local.get $sina) (local.get $cosa) (local.get $samea))
        (v128.and (local.get $w2a) (v128.load offset=528 (i32.const 0)))))
    (f32x4.mul (local.get $radiusb)
      (v128.xor (v128.bitselect (local.get $cosb) (local.get $sinb) (local.get $sameb))
        (v128.and (i32x4.add (local.get $w2b) (v128.load offset=496 (i32.const 0)))
          (v128.load offset=528 (i32.const 0)))))
    (f32x4.mul (local.get $radiusb)
      (v128.xor (v128.bitselect (local.get $sinb) (local.get $cosb) (local.get $sameb))
        (v128.and (local.get $w2b) (v128.load offset=528 (i32.const 0))))))

  ;; Stores normals 0–3 of four blocks (n_j: normal j of each block) at $at
  ;; in block-major order.
  (func $store (param $n0 v128) (param $n1 v128) (param $n2 v128) (param $n3 v128) (param $at i32)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $n0) (local.get $n1)))
    (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $n0) (local.get $n1)))
    (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $n2) (local.get $n3)))
    (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $n2) (local.get $n3)))
    (v128.store offset=0 (local.get $at)
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
    (v128.store offset=16 (local.get $at)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
    (v128.store offset=32 (local.get $at)
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
    (v128.store offset=48 (local.get $at)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3))))

  ;; Normals of `blocks` (at most 16384, rounded up to a multiple of 8)
  ;; consecutive blocks of key (k0, k1) and stream (s0, s1) from block
  ;; b0 + 2^32·b1, written from $OUTPUT on in stream order (four per block).
  (func (export "fill") (param $k0 i32) (param $k1 i32) (param $s0 i32) (param $s1 i32)
    (param $b0 i32) (param $b1 i32) (param $blocks i32)
    (local $at i32) (local $end i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local.set $at (global.get $OUTPUT))
    (local.set $end (i32.add (local.get $at) (i32.shl (local.get $blocks) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (call $philox (local.get $b0) (local.get $b1) (local.get $s0) (local.get $s1)
          (local.get $k0) (local.get $k1))
        (local.set $w3)
        (local.set $w2)
        (local.set $w1)
        (local.set $w0)
        (local.set $a3)
        (local.set $a2)
        (local.set $a1)
        (local.set $a0)
        (call $boxMuller (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))
        (call $store (local.get $at))
        (call $boxMuller (local.get $w0) (local.get $w1) (local.get $w2) (local.get $w3))
        (call $store (i32.add (local.get $at) (i32.const 64)))
        (local.set $at (i32.add (local.get $at) (i32.const 128)))
        ;; next eight block counters (64-bit)
        (local.set $b1 (i32.add (local.get $b1) (i32.lt_u (i32.add (local.get $b0) (i32.const 8)) (local.get $b0))))
        (local.set $b0 (i32.add (local.get $b0) (i32.const 8)))
        (br $next))))
)
