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
 * the Gaussian transition of the endpoint anchor (§5.1) or the local anchor
 * (§5.2); the last step to t = 0 stays deterministic.
 *
 * Noise comes from one Philox stream per image ({@link SamplingNoise}), so
 * image `i` of a batch is bit-identical to the same seed sampled alone.
 *
 * @module
 */

import { endpointAnchor, localAnchor, twoTimeJump } from "./anchor.ts";
import { checkOutput, endpointOf, type FlowMap, type Tensor } from "./flowmap.ts";
import { SamplingNoise } from "./noise.ts";
import { checkShape, gridFor, seedsFor, sizeOf } from "./sample_args.ts";
import { combine2, sampleGaussian } from "./ops.ts";

/** ASFMC options: which anchor makes each non-final step stochastic (docs/math.md §5). */
export interface StochasticOptions {
  /** "endpoint" (§5.1, both kinds) or "local" (§5.2, two-time rectified-flow maps). */
  anchor: "endpoint" | "local";
  /** Endpoint noise level in (0, 1]; default 1 keeps the marginal exactly. */
  eta?: number;
  /** Local-anchor noise level (Flow-GRPO's eta); default 0.7. */
  noiseLevel?: number;
  /** Local-anchor offset `a = s + delta`; default 0.01. */
  delta?: number;
  /** Local-anchor velocity: "reuse" the jump's (default) or one "extra-nfe". */
  velocity?: "reuse" | "extra-nfe";
}

/** Options of {@link sample}. */
export interface SampleOptions<C> {
  /** Output shape, batch first, e.g. `[4, 3, 32, 32]`. */
  shape: readonly number[];
  /** One seed per image, or one seed `s` for the batch meaning seeds `s, s + 1, …`. */
  seed: number | readonly number[];
  /** Number of steps (uniform RF grid or angular TrigFlow grid) or an explicit grid. */
  grid: number | readonly number[];
  /** Conditioning passed to every flow-map evaluation. */
  cond?: C;
  /** Make the sampler stochastic with ASFMC. */
  stochastic?: StochasticOptions;
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
  const { cond, stochastic, renoise = "seeded" } = options;
  const shape = checkShape(options.shape);
  const seeds = seedsFor(options.seed, shape[0]);
  const grid = gridFor(map, options.grid);
  if (stochastic && stochastic.anchor === "local" && map.kind !== "two-time") {
    throw new RangeError('the local anchor needs a two-time flow map; use anchor: "endpoint"');
  }
  if (renoise !== "seeded" && (map.kind !== "one-time" || stochastic)) {
    throw new RangeError('renoise: "implied" applies to deterministic one-time sampling only');
  }
  const noise = new SamplingNoise(seeds, options.stream ?? 0);
  let x: Tensor = { data: noise.fill(new Float32Array(sizeOf(shape))), shape };
  const sigma0 = map.path.sigma(grid[0]);
  if (sigma0 !== 1) { for (let i = 0; i < x.data.length; i++) x.data[i] *= sigma0; }
  let meanBuffer: Float32Array | undefined;
  const mean = () => meanBuffer ??= new Float32Array(x.data.length);

  for (let k = 0; k + 1 < grid.length; k++) {
    const t = grid[k], s = grid[k + 1];
    const last = k + 2 === grid.length;
    if (map.kind === "two-time" && (!stochastic || last || stochastic.anchor === "local")) {
      const u = checkOutput(await map.average(x, s, t, cond), x, "average");
      const jump = twoTimeJump(t, s);
      if (!stochastic || last) {
        // the sampler owns x: the deterministic step overwrites it
        x = { data: combine2(x.data, jump.x, x.data, jump.u, u), shape };
        continue;
      }
      const y = combine2(new Float32Array(u.length), jump.x, x.data, jump.u, u);
      const step = localAnchor(map.path, t, s, {
        delta: stochastic.delta ?? 0.01,
        noiseLevel: stochastic.noiseLevel,
        velocity: stochastic.velocity,
      });
      const vHat = step.extraNfe
        ? checkOutput(await map.average({ data: y, shape }, s, s, cond), x, "average")
        : u;
      combine2(mean(), step.mean.y, y, step.mean.velocity, vHat);
      x = { data: sampleGaussian(y, mean(), step.std, noise), shape };
      continue;
    }
    // Endpoint anchor: the one-time sampler of §4 (eta = 1) and ASFMC's §5.1.
    const x0 = await endpointOf(map, x, t, cond);
    const eta = stochastic ? stochastic.eta ?? 1 : renoise === "implied" ? 0 : 1;
    const step = endpointAnchor(map.path, t, s, { eta });
    combine2(mean(), step.mean.x, x.data, step.mean.x0, x0);
    const next = step.std === 0
      ? mean().slice()
      : sampleGaussian(new Float32Array(x.data.length), mean(), step.std, noise);
    x = { data: next, shape };
  }
  return x;
}
