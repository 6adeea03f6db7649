/**
 * Best-of-N: `N` candidates per image, candidate `j` drawn by the plain
 * sampler on noise sub-stream `j` of the image's seed, and the one with the
 * highest reward kept (the first on ties). Candidate 0 is the plain sample,
 * so `N = 1` is exactly {@linkcode sample}.
 *
 * @module
 */

import type { FlowMap, Tensor } from "../flowmap.ts";
import { sample, type SampleOptions } from "../sampler.ts";
import { checkShape, sizeOf } from "../sample_args.ts";
import type { SteeredBatch } from "./steered.ts";

/** Options of {@link sampleBestOfN}: the plain sampler's, plus `N` and a scorer. */
export interface BestOfNOptions<C> extends Omit<SampleOptions<C>, "stream"> {
  /** Candidates `N` per image. */
  readonly particles: number;
  /** Rewards of `[B·N, …]` candidates, image-major; finite, one per row. */
  score(x0: Tensor): Promise<Float64Array>;
}

/**
 * Draws `N` candidates per image and keeps each image's best.
 *
 * @example
 * ```ts
 * import { sampleBestOfN } from "./best_of_n.ts";
 * import { rectifiedFlow, type TwoTimeFlowMap } from "../../mod.ts";
 * const shrink: TwoTimeFlowMap = {
 *   kind: "two-time",
 *   path: rectifiedFlow,
 *   average: (x, _r, t) => Promise.resolve(x.data.map((v) => v / t)),
 * };
 * const { nfe } = await sampleBestOfN(shrink, {
 *   shape: [1, 2], seed: 3, grid: 2, particles: 4,
 *   score: (x0) => Promise.resolve(Float64Array.from({ length: x0.shape[0] }, (_, i) => x0.data[2 * i])),
 * }); // nfe 8
 * ```
 */
export async function sampleBestOfN<C>(
  map: FlowMap<C>,
  options: BestOfNOptions<C>,
): Promise<SteeredBatch & { readonly chosen: readonly number[] }> {
  const { particles: n, score, ...plain } = options;
  const shape = checkShape(options.shape);
  const rows = shape[0], size = sizeOf(shape) / rows;
  const candidates: Tensor[] = [];
  for (let j = 0; j < n; j++) candidates.push(await sample(map, { ...plain, stream: j }));
  const all = new Float32Array(rows * n * size);
  for (let b = 0; b < rows; b++) {
    for (let j = 0; j < n; j++) {
      all.set(candidates[j].data.subarray(b * size, (b + 1) * size), (b * n + j) * size);
    }
  }
  const scores = await score({ data: all, shape: [rows * n, ...shape.slice(1)] });
  const out = new Float32Array(rows * size);
  const chosen: number[] = [];
  for (let b = 0; b < rows; b++) {
    let best = 0;
    for (let j = 1; j < n; j++) if (scores[b * n + j] > scores[b * n + best]) best = j;
    chosen.push(best);
    out.set(candidates[best].data.subarray(b * size, (b + 1) * size), b * size);
  }
  const steps = typeof options.grid === "number" ? options.grid : options.grid.length - 1;
  const { stochastic } = options;
  // one more NFE per stochastic step: the naive anchor's, or the local anchor's extra one
  const extraNfe = stochastic?.kind === "naive-intermediate" ||
    (stochastic?.kind === "local" && stochastic.velocity === "extra-nfe");
  const extra = extraNfe ? steps - 1 : 0;
  return { x: { data: out, shape }, nfe: n * (steps + extra), rewardCalls: n, chosen };
}
