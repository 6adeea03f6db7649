/**
 * The samplers' seeded noise: per-image Philox4x32-10 streams turned into
 * standard normals by a float32 Box–Muller transform built from IEEE-754
 * binary32 `+ − × ÷ √` only. A WebAssembly SIMD kernel draws eight blocks at
 * a time, about 3.4 ns per normal; the JavaScript reference here gives the
 * same bits (each operation rounded with `Math.fround`, which is exact for
 * these operations since binary64 carries more than twice binary32's precision).
 *
 * Normal `j` of stream `(seed, stream)` is value `j mod 4` of Philox block
 * `⌊j / 4⌋`: words 0 and 1 give values 0 and 1, words 2 and 3 values 2 and 3.
 * For a pair of words `(w1, w2)`, `u = ((w1 >>> 1) | 1) · 2^−31` rounded to
 * float32 (so `|z| ≤ 6.6`), and the angle is `2π · (w2 >>> 8) / 2^24`:
 * quadrant `w2 >>> 30`, then Taylor series of sin (to x⁹) and cos (to x¹⁰)
 * on `[0, π/4]`; `ln u` is `e·ln 2 + 2·atanh((m − 1)/(m + 1))` to the f⁹ term.
 *
 * It is the same Box–Muller on the same words as the float64 `NormalStream`
 * of `rng.ts` (which makes training data and initial weights; the bundled
 * models were built with it): the two streams of a seed agree within 1e-4.
 *
 * @module
 */

import { PhiloxBlocks } from "./rng.ts";
import { onFirstUse } from "./wasm/instantiate.ts";
import {
  createSamplingNoiseKernel,
  KERNEL_BLOCKS,
  type SamplingNoiseKernel,
} from "./wasm/sampling_noise.ts";

const f = Math.fround;
// float32 constants, shared with sampling_noise.wat (as hexadecimal floats)
const SQRT2 = f(Math.SQRT2), LN2 = f(Math.LN2), HALF_PI = f(Math.PI / 2);
const L3 = f(1 / 3), L5 = f(1 / 5), L7 = f(1 / 7), L9 = f(1 / 9);
const S1 = f(-1 / 6), S2 = f(1 / 120), S3 = f(-1 / 5040), S4 = f(1 / 362880);
const C2 = f(1 / 24), C3 = f(-1 / 720), C4 = f(1 / 40320), C5 = f(-1 / 3628800);

const bits = new Uint32Array(1);
const float = new Float32Array(bits.buffer);

/**
 * Two normals from two uint32 words (the reference of the SIMD kernel),
 * written to `out[at]` and `out[at + 1]`.
 *
 * @example
 * ```ts
 * import { boxMuller32 } from "./noise.ts";
 * const out = new Float32Array(2);
 * boxMuller32(0x9e3779b9, 0x7f4a7c15, out, 0);
 * ```
 */
export function boxMuller32(w1: number, w2: number, out: Float32Array, at: number): void {
  float[0] = f((w1 >>> 1) | 1) * 2 ** -31;
  let e = (bits[0] >>> 23) - 127;
  bits[0] = (bits[0] & 0x7fffff) | 0x3f800000;
  let m = float[0];
  if (m > SQRT2) {
    m *= 0.5;
    e += 1;
  }
  const fr = f(f(m - 1) / f(m + 1));
  const f2 = f(fr * fr);
  let p = f(L7 + f(f2 * L9));
  p = f(L5 + f(f2 * p));
  p = f(L3 + f(f2 * p));
  p = f(1 + f(f2 * p));
  const radius = f(Math.sqrt(f(-2 * f(f(e * LN2) + f(f(fr + fr) * p)))));

  const r = ((w2 >>> 8) & 0x3fffff) * 2 ** -22;
  const near = r <= 0.5;
  const x = f((near ? r : 1 - r) * HALF_PI);
  const x2 = f(x * x);
  p = f(S3 + f(x2 * S4));
  p = f(S2 + f(x2 * p));
  p = f(S1 + f(x2 * p));
  const sin = f(x + f(f(x * x2) * p));
  p = f(C4 + f(x2 * C5));
  p = f(C3 + f(x2 * p));
  p = f(C2 + f(x2 * p));
  p = f(-0.5 + f(x2 * p));
  const cos = f(1 + f(x2 * p));
  // the angle's cos and sin: swapped when exactly one of r ≤ ½, q even fails
  const same = near === ((w2 & 0x40000000) === 0);
  const c = same ? cos : sin, s = same ? sin : cos;
  out[at] = f(radius * (((w2 + 0x40000000) >>> 0) >>> 31 ? -c : c));
  out[at + 1] = f(radius * (w2 >>> 31 ? -s : s));
}

/**
 * Normals `position … position + out.length − 1` of one stream, in JavaScript
 * (the reference; {@link SamplingNoise} uses the kernel when it can).
 *
 * @example
 * ```ts
 * import { samplingNormals } from "./noise.ts";
 * import { PhiloxBlocks } from "./rng.ts";
 * const z = samplingNormals(new PhiloxBlocks(7, 0), 0, new Float32Array(10));
 * ```
 */
export function samplingNormals(
  blocks: PhiloxBlocks,
  position: number,
  out: Float32Array,
): Float32Array {
  const four = new Float32Array(4);
  for (let i = 0; i < out.length; i++) {
    const j = position + i;
    if (i === 0 || j % 4 === 0) {
      const w = blocks.at(Math.floor(j / 4));
      boxMuller32(w[0], w[1], four, 0);
      boxMuller32(w[2], w[3], four, 2);
    }
    out[i] = four[j % 4];
  }
  return out;
}

/**
 * Seeded noise for a batch: image `i` draws its own stream of `seeds[i]`, so
 * a batch equals its images drawn alone, and each `fill` continues every
 * image's stream where the last one stopped.
 *
 * @example
 * ```ts
 * import { SamplingNoise } from "./noise.ts";
 * const noise = new SamplingNoise([7, 8]);
 * const x = noise.fill(new Float32Array(2 * 3 * 32 * 32)); // one 3×32×32 draw per image
 * ```
 */
export class SamplingNoise {
  readonly #streams: PhiloxBlocks[];
  readonly #positions: number[];

  /**
   * Opens one stream per image.
   *
   * @param seeds one non-negative safe integer per image
   * @param stream sub-stream of every image (default 0)
   */
  constructor(seeds: readonly number[], stream = 0) {
    if (seeds.length === 0) throw new RangeError("SamplingNoise needs at least one seed");
    this.#streams = seeds.map((seed) => new PhiloxBlocks(seed, stream));
    this.#positions = seeds.map(() => 0);
  }

  /** Number of images. */
  get size(): number {
    return this.#streams.length;
  }

  /** Fills `out` (batch first, an equal share per image) with each image's next normals. */
  fill(out: Float32Array): Float32Array {
    const per = out.length / this.#streams.length;
    if (!Number.isInteger(per)) {
      throw new RangeError(
        `noise buffer of ${out.length} values does not split into ${this.#streams.length} images`,
      );
    }
    const kernel = samplingKernel();
    this.#streams.forEach((blocks, i) => {
      const part = out.subarray(i * per, (i + 1) * per);
      const position = this.#positions[i];
      if (kernel) drawWithKernel(kernel, blocks, position, part);
      else samplingNormals(blocks, position, part);
      this.#positions[i] = position + per;
    });
    return out;
  }
}

function drawWithKernel(
  kernel: SamplingNoiseKernel,
  blocks: PhiloxBlocks,
  position: number,
  out: Float32Array,
): void {
  for (let done = 0; done < out.length;) {
    const j = position + done, lane = j % 4;
    const count = Math.min(out.length - done, 4 * KERNEL_BLOCKS - lane);
    const normals = kernel.draw(
      blocks.key,
      blocks.stream,
      Math.floor(j / 4),
      (lane + count + 3) >> 2,
    );
    out.set(normals.subarray(lane, lane + count), done);
    done += count;
  }
}

const samplingKernel = onFirstUse(createSamplingNoiseKernel);
