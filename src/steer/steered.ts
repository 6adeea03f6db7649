/**
 * Posterior-sample reward steering (Meta Flow Maps' gradient-free estimator;
 * docs/math.md §10.2–10.4). The reward-tilted target
 * `p*(x0) ∝ p(x0)·exp(lambda·r(x0))` has the posterior mean
 * `E*[x0 | x_t] = E[x0·exp(lambda·r(x0)) | x_t] / E[exp(lambda·r(x0)) | x_t]`,
 * estimated from `M` posterior samples (src/steer/posterior.ts) by
 *
 *     w_i = softmax_i(lambda·r(x0^(i))),   E*_hat = Σ w_i·x0^(i),   x̄0 = (1/M)·Σ x0^(i)
 *
 * Each outer step `t → s` is the map's own step plus the change the tilted
 * endpoint estimate makes to it:
 *
 *     x_s = step(x_t) + c(t, s)·(E*_hat − x̄0)
 *     c(t, s) = alpha(s) − sigma(s)·sqrt(1 − eta²)·alpha(t) / sigma(t)
 *
 * with `eta = 0` for a two-time jump (rectified flow: `c = 1 − s/t`;
 * TrigFlow: `c = sin(t − s) / sin t`) and `eta = 1` for the one-time
 * consistency step (`c = alpha(s)`). `lambda = 0` gives a zero correction.
 *
 * @module
 */

import { endpointAnchor, twoTimeJump } from "../anchor.ts";
import { checkOutput, type FlowMap, type Tensor } from "../flowmap.ts";
import { SamplingNoise } from "../noise.ts";
import { checkShape, samplingGrid, seedsFor, sizeOf } from "../sample_args.ts";
import { combine2 } from "../ops.ts";
import { nextState } from "../transition.ts";
import { type InnerSchedule, posteriorMeanOf, posteriorSamples } from "./posterior.ts";

/** Philox sub-stream of the particles' noise (the image's own draws use stream 0). */
export const PARTICLE_STREAM = 0x5354_4552;

/** Options of {@link sampleSteered}. */
export interface SteeredSampleOptions<C> {
  /** Output shape, batch first. */
  readonly shape: readonly number[];
  /** One seed per image, or `s` meaning `s, s + 1, …`. */
  readonly seed: number | readonly number[];
  /** Outer steps K or an explicit grid. */
  readonly grid: number | readonly number[];
  /** Conditioning of the `B` images. */
  readonly cond?: C;
  /** Conditioning of the `B·M` particles (particle `m` of image `b` at row `b·M + m`). */
  readonly particleCond?: C;
  /** Posterior samples `M` per image and outer step. */
  readonly particles: number;
  /** `lambda`, the tilt's inverse temperature. */
  readonly strength: number;
  /** Inner schedule of the posterior rollouts. */
  readonly inner?: InnerSchedule;
  /** Rewards of `[B·M, …]` endpoint samples, image-major; finite, one per row. */
  score(x0: Tensor): Promise<Float64Array>;
}

/** A steered batch and its cost per image. */
export interface SteeredBatch {
  /** The samples. */
  readonly x: Tensor;
  /** Network evaluations per image. */
  readonly nfe: number;
  /** Candidates scored per image. */
  readonly rewardCalls: number;
}

/**
 * Draws a batch steered toward high reward (see the module doc);
 * deterministic given the seeds, and image `i` equals its seed drawn alone.
 *
 * @example
 * ```ts
 * import { sampleSteered } from "./steered.ts";
 * import { rectifiedFlow, type TwoTimeFlowMap } from "../../mod.ts";
 * const shrink: TwoTimeFlowMap = {
 *   kind: "two-time",
 *   path: rectifiedFlow,
 *   average: (x, _r, t) => Promise.resolve(x.data.map((v) => v / t)),
 * };
 * const { x, nfe } = await sampleSteered(shrink, {
 *   shape: [2, 2], seed: 7, grid: 2, particles: 4, strength: 5,
 *   score: (x0) => Promise.resolve(Float64Array.from({ length: x0.shape[0] }, (_, i) => x0.data[2 * i])),
 * }); // nfe = 2 · (2 + 4)
 * ```
 */
export async function sampleSteered<C>(
  map: FlowMap<C>,
  options: SteeredSampleOptions<C>,
): Promise<SteeredBatch> {
  const { cond, particleCond, particles: m, strength, inner } = options;
  const shape = checkShape(options.shape);
  const seeds = seedsFor(options.seed, shape[0]);
  const grid = samplingGrid(map, options.grid);
  const rows = shape[0], size = sizeOf(shape) / rows;
  const noise = new SamplingNoise(seeds);
  const particleNoise = new SamplingNoise(seeds, PARTICLE_STREAM);
  let x: Tensor = { data: noise.fill(new Float32Array(rows * size)), shape };
  const sigma0 = map.path.sigma(grid[0]);
  if (sigma0 !== 1) { for (let i = 0; i < x.data.length; i++) x.data[i] *= sigma0; }
  let nfe = 0, rewardCalls = 0;

  for (let k = 0; k + 1 < grid.length; k++) {
    const t = grid[k], s = grid[k + 1];
    const mean = await posteriorMeanOf(map, x, t, cond);
    const posterior = await posteriorSamples(map, x, t, {
      particles: m,
      inner,
      mean,
      cond: particleCond,
      noise: particleNoise,
    });
    const scores = await options.score(posterior.x0);
    rewardCalls += m;
    const shift = tiltShift(posterior.x0.data, scores, rows, m, size, strength);
    nfe += 1 + posterior.nfe;
    let next: Float32Array, c: number;
    if (map.kind === "two-time") {
      const u = checkOutput(await map.average(x, s, t, cond), x, "average");
      nfe += 1;
      const jump = twoTimeJump(t, s);
      next = combine2(new Float32Array(u.length), jump.x, x.data, jump.u, u);
      c = endpointAnchor(map.path, t, s, { eta: 0 }).mean.x0;
    } else {
      // the consistency step of §4 reuses f(x_t, t), the shared estimate
      const step = endpointAnchor(map.path, t, s, { eta: 1 });
      const center = combine2(
        new Float32Array(mean.length),
        step.mean.x,
        x.data,
        step.mean.x0,
        mean,
      );
      next = nextState(center, step.std, noise);
      c = step.mean.x0;
    }
    for (let i = 0; i < next.length; i++) next[i] += c * shift[i];
    x = { data: next, shape };
  }
  return { x, nfe, rewardCalls };
}

/**
 * Per image, `Σ w_i·x0^(i) − (1/M)·Σ x0^(i)` with `w = softmax(lambda·r)`:
 * the self-normalised tilted endpoint estimate minus the untilted one.
 *
 * @example
 * ```ts
 * import { tiltShift } from "./steered.ts";
 * // one image, two 1-value particles 0 and 2; equal rewards: no shift
 * tiltShift(Float32Array.of(0, 2), Float64Array.of(1, 1), 1, 2, 1, 3); // [0]
 * ```
 */
export function tiltShift(
  x0: Float32Array,
  scores: Float64Array,
  rows: number,
  m: number,
  size: number,
  strength: number,
): Float32Array {
  const out = new Float32Array(rows * size);
  const w = new Float64Array(m);
  for (let b = 0; b < rows; b++) {
    let top = -Infinity;
    for (let p = 0; p < m; p++) top = Math.max(top, strength * scores[b * m + p]);
    let sum = 0;
    for (let p = 0; p < m; p++) sum += w[p] = Math.exp(strength * scores[b * m + p] - top);
    for (let p = 0; p < m; p++) w[p] = w[p] / sum - 1 / m;
    for (let i = 0; i < size; i++) {
      let acc = 0;
      for (let p = 0; p < m; p++) acc += w[p] * x0[(b * m + p) * size + i];
      out[b * size + i] = acc;
    }
  }
  return out;
}
