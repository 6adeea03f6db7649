/**
 * Seeded, counter-based random numbers that give the same stream on every
 * JavaScript runtime: Philox4x32-10 (Salmon et al., Random123) for bits and a
 * Box–Muller transform whose `log`, `sin` and `cos` are computed with IEEE
 * basic arithmetic only, so no engine's libm can change a bit.
 *
 * A stream is addressed by `(seed, stream)`; normal number `j` of a stream is
 * lane `j mod 4` of the Philox block with counter `floor(j / 4)`. Batches give
 * every sample its own stream, so sample `i` never depends on the batch size.
 *
 * @module
 */

import { onFirstUse } from "./wasm/instantiate.ts";
import { createNormalKernel } from "./wasm/normals.ts";

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO_32 = 4294967296;

/**
 * Philox4x32-10: encrypts a 128-bit counter under a 64-bit key into four
 * uniformly distributed 32-bit words, written to `out`.
 *
 * @example Random123's known-answer vector for the zero counter and key
 * ```ts
 * import { philox4x32 } from "./rng.ts";
 * const out = new Uint32Array(4);
 * philox4x32([0, 0, 0, 0], [0, 0], out); // 6627e8d5 e169c58d bc57ac4c 9b00dbd8
 * ```
 */
export function philox4x32(
  counter: ArrayLike<number>,
  key: ArrayLike<number>,
  out: Uint32Array,
): Uint32Array {
  let c0 = counter[0] >>> 0, c1 = counter[1] >>> 0, c2 = counter[2] >>> 0, c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0, k1 = key[1] >>> 0;
  for (let round = 0; round < 10; round++) {
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi0 = mulHi(M0, c0);
    const lo1 = Math.imul(M1, c2) >>> 0;
    const hi1 = mulHi(M1, c2);
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

/** High 32 bits of the 64-bit product of two uint32 values, exactly. */
function mulHi(a: number, b: number): number {
  const aLo = a & 0xffff, aHi = a >>> 16, bLo = b & 0xffff, bHi = b >>> 16;
  const cross1 = aHi * bLo, cross2 = aLo * bHi;
  const carry = (((aLo * bLo) >>> 16) + (cross1 & 0xffff) + (cross2 & 0xffff)) >>> 16;
  return (aHi * bHi + (cross1 >>> 16) + (cross2 >>> 16) + carry) >>> 0;
}

/**
 * A sequential stream of standard-normal float32 values for one seed.
 *
 * @example Same seed, same numbers
 * ```ts
 * import { NormalStream } from "./rng.ts";
 * const a = new NormalStream(42).fill(new Float32Array(8));
 * const b = new NormalStream(42).fill(new Float32Array(8));
 * a.every((v, i) => v === b[i]); // true
 * ```
 */
export class NormalStream {
  readonly #blocks: PhiloxBlocks;
  readonly #normals = new Float64Array(4);
  #position = 0;

  /**
   * Opens the stream for `seed`, positioned at its first value.
   *
   * @param seed a non-negative safe integer
   * @param stream a non-negative integer selecting an independent sub-stream
   */
  constructor(seed: number, stream = 0) {
    this.#blocks = new PhiloxBlocks(seed, stream);
  }

  /** Index of the next normal value in this stream. */
  get position(): number {
    return this.#position;
  }

  /** Skips `count` values (cheap: the generator is counter-based). */
  skip(count: number): this {
    checkUint53(count, "skip count");
    this.#position += count;
    if ((this.#position & 3) !== 0) this.#refill(Math.floor(this.#position / 4));
    return this;
  }

  /**
   * Fills `out` with the next `out.length` values and returns it. Whole
   * blocks go through the WebAssembly kernel when the runtime has one (the
   * same bits as this file's JavaScript, which draws partial blocks).
   */
  fill<T extends Float32Array | Float64Array>(out: T): T {
    let i = 0;
    const lane = this.#position & 3;
    if (lane !== 0) {
      this.#refill(Math.floor(this.#position / 4));
      for (let l = lane; l < 4 && i < out.length; l++) out[i++] = this.#normals[l];
    }
    const first = (this.#position + i) / 4, blocks = Math.floor((out.length - i) / 4);
    const kernel = blocks > 0 ? normalKernel() : undefined;
    if (kernel) {
      kernel.fill(this.#blocks.key, this.#blocks.stream, first, blocks, out, i);
      i += 4 * blocks;
    }
    for (; i < out.length; i++) {
      const l = (this.#position + i) & 3;
      if (l === 0) this.#refill(Math.floor((this.#position + i) / 4));
      out[i] = this.#normals[l];
    }
    this.#position += out.length;
    return out;
  }

  #refill(block: number): void {
    const w = this.#blocks.at(block);
    boxMuller(w[0], w[1], this.#normals, 0);
    boxMuller(w[2], w[3], this.#normals, 2);
  }
}

/**
 * Per-sample noise for a batch: sample `i` draws from its own
 * {@link NormalStream} for `seeds[i]`, so a batch of 8 equals 8 batches of 1.
 *
 * @example
 * ```ts
 * import { BatchNoise } from "./rng.ts";
 * const noise = new BatchNoise([7, 8]);
 * const batch = noise.fill(new Float32Array(2 * 16)); // 16 values per sample
 * ```
 */
export class BatchNoise {
  readonly #streams: NormalStream[];

  /**
   * Opens one stream per sample.
   *
   * @param seeds one seed per sample
   * @param stream sub-stream used for every sample
   */
  constructor(seeds: readonly number[], stream = 0) {
    if (seeds.length === 0) throw new RangeError("BatchNoise needs at least one seed");
    this.#streams = seeds.map((seed) => new NormalStream(seed, stream));
  }

  /** Number of samples in the batch. */
  get size(): number {
    return this.#streams.length;
  }

  /** Fills `out` (batch first, equal share per sample) with each sample's next values. */
  fill<T extends Float32Array | Float64Array>(out: T): T {
    const per = out.length / this.#streams.length;
    if (!Number.isInteger(per)) {
      throw new RangeError(
        `noise buffer of ${out.length} values does not split into ${this.#streams.length} samples`,
      );
    }
    this.#streams.forEach((stream, i) => stream.fill(out.subarray(i * per, (i + 1) * per)));
    return out;
  }
}

/**
 * A sequential stream of uniform numbers in `[0, 1)` for one seed, from the
 * same Philox4x32-10 generator: value `j` of stream `(seed, stream)` is
 * word `j mod 4` of the block with counter `floor(j / 4)`, divided by 2^32.
 * Use it for discrete choices and placements (scene layouts, prompt draws);
 * {@link NormalStream} is for Gaussian noise.
 *
 * @example Seeded dice
 * ```ts
 * import { UniformStream } from "./rng.ts";
 * const rng = new UniformStream(42, 1);
 * const u = rng.next(); // in [0, 1)
 * const face = 1 + rng.nextInt(6); // in 1..6
 * ```
 */
export class UniformStream {
  readonly #blocks: PhiloxBlocks;
  #words: Uint32Array = new Uint32Array(4);
  #position = 0;

  /**
   * Opens the stream for `seed`, positioned at its first value.
   *
   * @param seed a non-negative safe integer
   * @param stream a non-negative integer selecting an independent sub-stream
   */
  constructor(seed: number, stream = 0) {
    this.#blocks = new PhiloxBlocks(seed, stream);
  }

  /** Index of the next value in this stream. */
  get position(): number {
    return this.#position;
  }

  /** The next value, a multiple of 2^−32 in `[0, 1)`. */
  next(): number {
    const lane = this.#position & 3;
    if (lane === 0) this.#words = this.#blocks.at(Math.floor(this.#position / 4));
    this.#position += 1;
    return this.#words[lane] / TWO_32;
  }

  /** A uniform value in `[low, high)`. */
  nextRange(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /**
   * A uniform integer in `0 … n − 1` (for `n` up to 2^20 the bias from the
   * 32-bit draw is below 2.5e-7).
   */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 20) {
      throw new RangeError(`nextInt needs an integer count in 1..2^20, got ${n}`);
    }
    return Math.floor(this.next() * n);
  }
}

/**
 * The Philox4x32-10 blocks of one `(seed, stream)`: block `i` encrypts the
 * counter `(i mod 2^32, ⌊i / 2^32⌋, stream words)` under the seed's two words.
 * {@link NormalStream}, {@link UniformStream} and the sampling noise all read
 * their bits from it.
 *
 * @example
 * ```ts
 * import { PhiloxBlocks } from "./rng.ts";
 * const words = new PhiloxBlocks(42, 0).at(0); // four uint32 words
 * ```
 */
export class PhiloxBlocks {
  /** Key words: the seed's low and high 32 bits. */
  readonly key: readonly [number, number];
  /** Counter words 2 and 3: the stream's low and high 32 bits. */
  readonly stream: readonly [number, number];
  readonly #counter = new Float64Array(4);
  readonly #words = new Uint32Array(4);

  /**
   * Opens the blocks of `(seed, stream)`.
   *
   * @param seed a non-negative safe integer (the key)
   * @param stream a non-negative safe integer (counter words 2 and 3)
   */
  constructor(seed: number, stream: number) {
    checkUint53(seed, "seed");
    checkUint53(stream, "stream");
    this.key = [seed % TWO_32, Math.floor(seed / TWO_32)];
    this.stream = [stream % TWO_32, Math.floor(stream / TWO_32)];
    this.#counter[2] = this.stream[0];
    this.#counter[3] = this.stream[1];
  }

  /** The four words of block `index` (a buffer reused by the next call). */
  at(index: number): Uint32Array {
    this.#counter[0] = index % TWO_32;
    this.#counter[1] = Math.floor(index / TWO_32);
    return philox4x32(this.#counter, this.key, this.#words);
  }
}

function checkUint53(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer, got ${value}`);
  }
}

/** Two normals from two uint32 words: `r = sqrt(−2 ln u1)`, angle `2π·u2`. */
function boxMuller(w1: number, w2: number, out: Float64Array, at: number): void {
  const radius = Math.sqrt(-2 * logUniform(w1));
  const quarterTurns = (w2 / TWO_32) * 4; // exact: w2 has 32 significant bits
  const quadrant = Math.floor(quarterTurns);
  const r = quarterTurns - quadrant; // in [0, 1): fraction of a quarter turn
  const near = r <= 0.5;
  const angle = (near ? r : 1 - r) * HALF_PI;
  const sinAngle = sinSmall(angle), cosAngle = cosSmall(angle);
  const c = near ? cosAngle : sinAngle, s = near ? sinAngle : cosAngle;
  let cosA = c, sinA = s;
  if (quadrant === 1) {
    cosA = -s;
    sinA = c;
  } else if (quadrant === 2) {
    cosA = -c;
    sinA = -s;
  } else if (quadrant === 3) {
    cosA = s;
    sinA = -c;
  }
  out[at] = radius * cosA;
  out[at + 1] = radius * sinA;
}

const HALF_PI = Math.PI / 2;
const LN2_HI = 6.93147180369123816490e-01; // fdlibm split of ln 2
const LN2_LO = 1.90821492927058770002e-10;
// Reciprocal coefficients of the series below, computed once, so the hot
// loops multiply instead of divide (same doubles on every IEEE-754 runtime).
const LOG_RECIPROCALS = Float64Array.from({ length: 11 }, (_, i) => 1 / (21 - 2 * i));
const SIN_RECIPROCALS = Float64Array.from(
  { length: 8 },
  (_, i) => 1 / ((17 - 2 * i) * (16 - 2 * i)),
);
const COS_RECIPROCALS = Float64Array.from(
  { length: 9 },
  (_, i) => 1 / ((18 - 2 * i) * (17 - 2 * i)),
);
/** `2^−k` for `k = 0 … 32`: exact powers of two. */
const INVERSE_POWERS = Float64Array.from({ length: 33 }, (_, k) => 2 ** -k);
const LOG_SERIES_START = 1 / 23;

/** The kernel of whole-block draws, instantiated on first use (undefined: none). */
const normalKernel = onFirstUse(() =>
  // The constants in the layout `wasm/normals.wat` reads them.
  createNormalKernel(
    Float64Array.of(
      LOG_SERIES_START,
      ...LOG_RECIPROCALS,
      ...SIN_RECIPROCALS,
      ...COS_RECIPROCALS,
      HALF_PI,
      Math.SQRT2,
      LN2_HI,
      LN2_LO,
    ),
  )
);

/**
 * `ln u1` for `u1 = (w + 0.5) / 2^32` in (0, 1), from basic arithmetic only.
 * With `k = ⌊log2 w⌋` (−1 for w = 0), `u1 = m·2^(k − 32)` and
 * `m = (w + 0.5)·2^−k` in [1, 2) exactly, so no bit pattern is inspected.
 */
function logUniform(w: number): number {
  const k = 31 - Math.clz32(w);
  let exponent = k - 32;
  let m = k < 0 ? 1 : (w + 0.5) * INVERSE_POWERS[k];
  if (m > Math.SQRT2) {
    m /= 2;
    exponent += 1;
  }
  const f = (m - 1) / (m + 1); // |f| ≤ 0.1716
  const f2 = f * f;
  let series = LOG_SERIES_START;
  for (let i = 0; i < LOG_RECIPROCALS.length; i++) series = LOG_RECIPROCALS[i] + f2 * series;
  return exponent * LN2_HI + (2 * f * series + exponent * LN2_LO);
}

/** sin(x) for |x| ≤ π/4 by its Taylor series to x^17 (error < 1e-18). */
function sinSmall(x: number): number {
  const x2 = x * x;
  let term = 1;
  for (let i = 0; i < SIN_RECIPROCALS.length; i++) term = 1 - x2 * SIN_RECIPROCALS[i] * term;
  return x * term;
}

/** cos(x) for |x| ≤ π/4 by its Taylor series to x^18 (error < 1e-18). */
function cosSmall(x: number): number {
  const x2 = x * x;
  let term = 1;
  for (let i = 0; i < COS_RECIPROCALS.length; i++) term = 1 - x2 * COS_RECIPROCALS[i] * term;
  return term;
}
