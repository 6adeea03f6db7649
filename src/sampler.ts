/**
 * K-step samplers over any flow map (docs/math.md §4–5).
 *
 * Deterministic (the evaluation samplers of §4), starting from
 * `x = sigma(t_0)·eps`:
 *
 *     two-time: x ← x − (t_k − t_{k+1})·u(x, t_{k+1}, t_k)
 *     one-time: x0_hat = f(x, t_k); x ← alpha(t_{k+1})·x0_hat + sigma(t_{k+1})·z_k
 *
 * Stochastic (ASFMC, §5) for diverse samples: every step but the last becomes
 * the Gaussian transition of an anchor ({@linkcode AnchorOptions}: endpoint
 * §5.1, local §5.2, naive §5.3); the last step to t = 0 stays deterministic.
 * Every step runs through the transition engine of `src/transition.ts`, the
 * loop the trainer's rollouts record.
 *
 * Noise comes from one Philox stream per image ({@link SamplingNoise}), so
 * image `i` of a batch is bit-identical to the same seed sampled alone.
 *
 * @module
 */

import { type AnchorOptions, resolveAnchor } from "./anchor.ts";
import type { FlowMap, Tensor } from "./flowmap.ts";
import { SamplingNoise } from "./noise.ts";
import { checkShape, samplingGrid, seedsFor, sizeOf } from "./sample_args.ts";
import { flowMapStep, type Move, type Transition, transitions } from "./transition.ts";

/** Options of {@link sample}. */
export interface SampleOptions<C> {
  /** Output shape, batch first, e.g. `[4, 3, 32, 32]`. */
  shape: readonly number[];
  /** One seed per image, or one seed `s` for the batch meaning seeds `s, s + 1, …`. */
  seed: number | readonly number[];
  /** Number of steps K ({@linkcode timeGrid} of the map's path) or an explicit grid. */
  grid: number | readonly number[];
  /** Shift of a K-step rectified-flow grid (default 1, uniform); not with an explicit grid. */
  shift?: number;
  /** Conditioning passed to every flow-map evaluation. */
  cond?: C;
  /** Make every step but the last stochastic with this ASFMC anchor (docs/math.md §5). */
  stochastic?: AnchorOptions;
  /**
   * One-time maps only: re-noise each step with "seeded" fresh noise (default,
   * §4) or the "implied" noise of the current state — a DDIM-style step that
   * inflates the variance of flow maps, offered only for comparison.
   */
  renoise?: "seeded" | "implied";
  /**
   * Noise sub-stream of every image (default 0). Other streams give other,
   * equally seeded draws: Best-of-N candidate `j` uses stream `j`.
   */
  stream?: number;
}

/**
 * Draws a batch from a flow map in `K` steps; deterministic given the seeds.
 * It drains {@link sampleSteps}.
 *
 * @example Two steps of an analytic map
 * ```ts
 * import { rectifiedFlow, sample, type TwoTimeFlowMap } from "../mod.ts";
 * const shrink: TwoTimeFlowMap = {
 *   kind: "two-time",
 *   path: rectifiedFlow,
 *   average: (x, _r, t) => Promise.resolve(x.data.map((v) => v / t)),
 * };
 * const images = await sample(shrink, { shape: [2, 3, 8, 8], seed: 7, grid: 2 });
 * ```
 */
export async function sample<C>(map: FlowMap<C>, options: SampleOptions<C>): Promise<Tensor> {
  const shape = checkShape(options.shape);
  let x: Float32Array | undefined;
  for await (const step of sampleSteps(map, options)) x = step.next;
  return { data: x as Float32Array, shape };
}

/**
 * The sampler's steps: each transition `x_k → x_{k+1}` of {@link sample}
 * with its mean and std, from the transition engine ({@link transitions}).
 * Options are checked before the first step; the last transition's `next`
 * is `sample`'s result.
 *
 * @example Watch a stochastic two-step sampler
 * ```ts
 * import { rectifiedFlow, sampleSteps, type TwoTimeFlowMap } from "../mod.ts";
 * const shrink: TwoTimeFlowMap = {
 *   kind: "two-time",
 *   path: rectifiedFlow,
 *   average: (x, _r, t) => Promise.resolve(x.data.map((v) => v / t)),
 * };
 * const options = { shape: [1, 4], seed: 7, grid: 2, stochastic: { kind: "endpoint" as const } };
 * for await (const { k, t, s, std } of sampleSteps(shrink, options)) {
 *   console.log(`step ${k}: ${t} → ${s}, std ${std}`); // std 0.5, then 0 (the final step)
 * }
 * ```
 */
export function sampleSteps<C>(
  map: FlowMap<C>,
  options: SampleOptions<C>,
): AsyncGenerator<Transition, void, undefined> {
  const { cond, renoise = "seeded" } = options;
  const shape = checkShape(options.shape);
  const seeds = seedsFor(options.seed, shape[0]);
  const grid = samplingGrid(map, options.grid, options.shift);
  const stochastic = options.stochastic && resolveAnchor(options.stochastic);
  if (stochastic && stochastic.kind !== "endpoint" && map.kind !== "two-time") {
    throw new RangeError(
      `the ${stochastic.kind} anchor needs a two-time flow map; use kind: "endpoint"`,
    );
  }
  if (renoise !== "seeded" && (map.kind !== "one-time" || stochastic)) {
    throw new RangeError('renoise: "implied" applies to deterministic one-time sampling only');
  }
  const deterministic: Move = map.kind === "two-time"
    ? { kind: "jump" }
    : { kind: "endpoint", eta: renoise === "implied" ? 0 : 1 };
  // the last step to t = 0 is deterministic: the jump, or the endpoint at s = 0
  const moveOf = (k: number): Move =>
    stochastic && k + 2 < grid.length ? stochastic : deterministic;
  return transitions(
    (k, x) => flowMapStep(map, moveOf(k), { data: x, shape }, grid[k], grid[k + 1], cond),
    {
      grid,
      path: map.path,
      noise: new SamplingNoise(seeds, options.stream ?? 0),
      size: sizeOf(shape),
    },
  );
}
