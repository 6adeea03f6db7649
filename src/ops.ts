/**
 * Float32Array kernels that apply the transition coefficients of
 * `src/anchor.ts`: fused linear combinations, Gaussian sampling into a buffer
 * and per-sample log-probability reductions. Each is one pass over its inputs
 * and allocates nothing but its per-sample result.
 *
 * @module
 */

import { LOG_SQRT_2PI, type Reduction } from "./logprob.ts";

/** Anything that fills a buffer with standard-normal values (e.g. `BatchNoise`). */
export interface NormalSource {
  /** Fills `out` with standard-normal values and returns it. */
  fill(out: Float32Array): Float32Array;
}

/**
 * `out[i] = a·x[i] + b·y[i]`; `out` may alias `x` or `y`.
 *
 * @example
 * ```ts
 * import { combine2 } from "./ops.ts";
 * const out = combine2(new Float32Array(2), 2, Float32Array.of(1, 2), -1, Float32Array.of(1, 1));
 * // out = [1, 3]
 * ```
 */
export function combine2(
  out: Float32Array,
  a: number,
  x: Float32Array,
  b: number,
  y: Float32Array,
): Float32Array {
  checkLengths(out, x, y);
  for (let i = 0; i < out.length; i++) out[i] = a * x[i] + b * y[i];
  return out;
}

/**
 * `out[i] = a·x[i] + b·y[i] + c·z[i]`; `out` may alias any input.
 *
 * @example
 * ```ts
 * import { combine3 } from "./ops.ts";
 * const one = Float32Array.of(1);
 * combine3(new Float32Array(1), 1, one, 2, one, 3, one); // [6]
 * ```
 */
export function combine3(
  out: Float32Array,
  a: number,
  x: Float32Array,
  b: number,
  y: Float32Array,
  c: number,
  z: Float32Array,
): Float32Array {
  checkLengths(out, x, y, z);
  for (let i = 0; i < out.length; i++) out[i] = a * x[i] + b * y[i] + c * z[i];
  return out;
}

/**
 * Draws `out = mean + std·n` with `n` from `noise`; `out` must not alias `mean`.
 * With `std = 0` the noise is still drawn, so streams stay aligned.
 *
 * @example
 * ```ts
 * import { sampleGaussian } from "./ops.ts";
 * import { BatchNoise } from "./rng.ts";
 * const x = sampleGaussian(new Float32Array(4), new Float32Array(4), 0.5, new BatchNoise([1]));
 * ```
 */
export function sampleGaussian(
  out: Float32Array,
  mean: Float32Array,
  std: number,
  noise: NormalSource,
): Float32Array {
  checkLengths(out, mean);
  if (out.buffer === mean.buffer && out.byteOffset === mean.byteOffset) {
    throw new RangeError("sampleGaussian: out must not alias mean");
  }
  noise.fill(out);
  for (let i = 0; i < out.length; i++) out[i] = mean[i] + std * out[i];
  return out;
}

/**
 * Per-sample Gaussian log-density of `x` under `N(mean, std²·I)` (docs/math.md §5.5),
 * reduced over each sample's elements by `reduction`, accumulated in float64.
 *
 * @param batch number of samples; `x.length` must split evenly among them
 * @example
 * ```ts
 * import { gaussianLogProb } from "./ops.ts";
 * const zero = new Float32Array(3);
 * gaussianLogProb(zero, zero, 1, 1, "mean"); // [-0.9189…]
 * ```
 */
export function gaussianLogProb(
  x: Float32Array,
  mean: Float32Array,
  std: number,
  batch: number,
  reduction: Reduction,
): Float64Array {
  checkLengths(x, mean);
  if (!(std > 0 && Number.isFinite(std))) {
    throw new RangeError(`log-prob needs a positive finite std, got ${std}`);
  }
  const per = perSample(x.length, batch);
  const constant = -Math.log(std) - LOG_SQRT_2PI;
  const out = squaredDistances(x, mean, batch);
  for (let b = 0; b < batch; b++) {
    const total = -out[b] / (2 * std * std) + constant * per;
    out[b] = reduction === "mean" ? total / per : total;
  }
  return out;
}

/**
 * Per-sample KL between `N(meanA, std²)` and `N(meanB, std²)` (same std):
 * `(meanA − meanB)² / (2·std²)`, reduced by `reduction` (docs/math.md §5.5).
 *
 * @example
 * ```ts
 * import { gaussianKl } from "./ops.ts";
 * gaussianKl(Float32Array.of(1, 1), Float32Array.of(0, 0), 1, 1, "sum"); // [1]
 * ```
 */
export function gaussianKl(
  meanA: Float32Array,
  meanB: Float32Array,
  std: number,
  batch: number,
  reduction: Reduction,
): Float64Array {
  checkLengths(meanA, meanB);
  if (!(std > 0 && Number.isFinite(std))) {
    throw new RangeError(`KL needs a positive finite std, got ${std}`);
  }
  const per = perSample(meanA.length, batch);
  const out = squaredDistances(meanA, meanB, batch);
  for (let b = 0; b < batch; b++) {
    const total = out[b] / (2 * std * std);
    out[b] = reduction === "mean" ? total / per : total;
  }
  return out;
}

/** Per-sample `Σ (a − b)²`, accumulated in float64. */
function squaredDistances(a: Float32Array, b: Float32Array, batch: number): Float64Array {
  const per = a.length / batch;
  const out = new Float64Array(batch);
  for (let n = 0; n < batch; n++) {
    let sum = 0;
    for (let i = n * per, end = i + per; i < end; i++) {
      const d = a[i] - b[i];
      sum += d * d;
    }
    out[n] = sum;
  }
  return out;
}

function perSample(length: number, batch: number): number {
  if (!Number.isSafeInteger(batch) || batch < 1 || length % batch !== 0) {
    throw new RangeError(`cannot split ${length} values into a batch of ${batch}`);
  }
  return length / batch;
}

function checkLengths(first: Float32Array, ...rest: Float32Array[]): void {
  for (const other of rest) {
    if (other.length !== first.length) {
      throw new RangeError(`length mismatch: ${first.length} vs ${other.length}`);
    }
  }
}
