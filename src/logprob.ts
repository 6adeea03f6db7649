/**
 * Choices in the Gaussian log-probability and KL of docs/math.md §5.5, named so
 * that every caller records which one it uses. The Float32Array kernels live
 * in `src/ops.ts`; the trainer applies the same formulas to tensors.
 *
 * @module
 */

import type { GaussianStep } from "./anchor.ts";

/**
 * How per-element log-probabilities are reduced over a sample's D elements.
 * "mean" follows the reference Flow-GRPO implementation (log-ratios scaled by
 * 1/D, hence clip ranges near 1e-4); "sum" is the exact joint log-density.
 */
export type Reduction = "mean" | "sum";

/**
 * Which std divides the KL's squared mean difference: the transition's
 * actual "step-std", or the "noise-scale" `g` without the `sqrt(|dt|)` or
 * `sqrt(delta)` factor, as the reference code does.
 */
export type KlScale = "step-std" | "noise-scale";

/** `log(sqrt(2π))`, the constant of the Gaussian log-density. */
export const LOG_SQRT_2PI: number = 0.5 * Math.log(2 * Math.PI);

/**
 * The std used in the KL `(mean_theta − mean_ref)² / (2·std²)` for a step.
 *
 * @example
 * ```ts
 * import { klStd } from "./logprob.ts";
 * import { localAnchor } from "./anchor.ts";
 * import { rectifiedFlow } from "./path.ts";
 * const step = localAnchor(rectifiedFlow, 0.8, 0.4, { delta: 0.04 });
 * klStd(step, "noise-scale") / klStd(step, "step-std"); // 5 = 1 / sqrt(0.04)
 * ```
 */
export function klStd(step: GaussianStep<string>, scale: KlScale): number {
  const std = scale === "step-std" ? step.std : step.noiseScale;
  if (!(std > 0)) {
    throw new RangeError(`the KL needs a stochastic step (std > 0), got ${scale} = ${std}`);
  }
  return std;
}
