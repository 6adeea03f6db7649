/**
 * Advantage estimators of Flow-Map GRPO (docs/math.md §6), by name:
 *
 * - `group`: `A_i = (R_i − mean_group) / (std_group + 1e-4)`;
 * - `per-prompt-global-std` (Flow-GRPO's default): the mean of the rewards seen
 *   for the prompt this iteration, over the std of every reward gathered this
 *   iteration;
 * - `step-aware` (TAFS-GRPO): rewards of the one-step endpoint estimates at
 *   every state, normalised per step within the group; transition `k` gets the
 *   advantage of step `k + 1` (the last stochastic transition gets the final
 *   image's), or with `sum` every transition gets the sum over steps.
 *
 * Every mode ends with the clamp `A ← clamp(A, −A_max, A_max)`. Stds are
 * population stds (numpy's default, as in Flow-GRPO); sums run in float64.
 *
 * @module
 */

import type { AdvantageMode } from "./config.ts";

/** The `+ 1e-4` that keeps a zero-variance group finite. */
export const STD_EPSILON = 1e-4;

/** Inputs of {@link computeAdvantages}. */
export interface AdvantageInputs {
  /** Rewards of the final images, one per trajectory. */
  readonly rewards: Float32Array;
  /** Prompt of each trajectory; trajectories of one prompt form its group. */
  readonly prompts: readonly string[];
  /**
   * step-aware only: rewards of the endpoint estimates at `x_1 … x_{P−1}`
   * (P − 1 arrays); the final image's rewards complete the P steps.
   */
  readonly stepRewards?: readonly Float32Array[];
  /** Number of stochastic transitions P. */
  readonly stochasticSteps: number;
}

/** Options of {@link computeAdvantages}. */
export interface AdvantageOptions {
  /** The estimator. */
  readonly mode: AdvantageMode;
  /** step-aware: give every transition the sum over steps. */
  readonly sum: boolean;
  /** A_max. */
  readonly clip: number;
}

/**
 * Advantages per stochastic transition: P arrays of one value per trajectory.
 *
 * @example Two groups of two
 * ```ts
 * import { computeAdvantages } from "./advantages.ts";
 * const [a] = computeAdvantages(
 *   { rewards: Float32Array.of(1, 0, 0.5, 0.5), prompts: ["p", "p", "q", "q"], stochasticSteps: 1 },
 *   { mode: "group", sum: false, clip: 5 },
 * ); // [≈1, ≈−1, 0, 0]
 * ```
 */
export function computeAdvantages(
  inputs: AdvantageInputs,
  options: AdvantageOptions,
): Float32Array[] {
  const { rewards, prompts, stochasticSteps: P } = inputs;
  if (rewards.length !== prompts.length) {
    throw new RangeError(`${rewards.length} rewards for ${prompts.length} prompts`);
  }
  const clip = (values: Float64Array) =>
    Float32Array.from(values, (a) => Math.max(-options.clip, Math.min(options.clip, a)));
  if (options.mode === "group") {
    const a = clip(groupNormalised(rewards, prompts));
    return Array.from({ length: P }, () => a);
  }
  if (options.mode === "per-prompt-global-std") {
    const a = clip(perPromptGlobalStd(rewards, prompts));
    return Array.from({ length: P }, () => a);
  }
  const steps = inputs.stepRewards;
  if (steps === undefined || steps.length !== P - 1) {
    throw new RangeError(`step-aware advantages need ${P - 1} arrays of endpoint-estimate rewards`);
  }
  // step j + 1 (the state after transition j) for j = 0 … P − 1; the last is the final image
  const perStep = [...steps, rewards].map((r) => clip(groupNormalised(r, prompts)));
  if (!options.sum) return perStep;
  const total = new Float32Array(rewards.length);
  for (const a of perStep) a.forEach((v, i) => (total[i] += v));
  return Array.from({ length: P }, () => total);
}

/** `(R_i − mean_group) / (std_group + 1e-4)`, groups keyed by prompt. */
export function groupNormalised(rewards: Float32Array, prompts: readonly string[]): Float64Array {
  const out = new Float64Array(rewards.length);
  for (const members of groups(prompts).values()) {
    const values = members.map((i) => rewards[i]);
    const { mean, std } = moments(values);
    for (const i of members) out[i] = (rewards[i] - mean) / (std + STD_EPSILON);
  }
  return out;
}

/** `(R_i − mean of the prompt's rewards) / (std of all rewards + 1e-4)`. */
export function perPromptGlobalStd(
  rewards: Float32Array,
  prompts: readonly string[],
): Float64Array {
  const { std } = moments(Array.from(rewards));
  const out = new Float64Array(rewards.length);
  for (const members of groups(prompts).values()) {
    const { mean } = moments(members.map((i) => rewards[i]));
    for (const i of members) out[i] = (rewards[i] - mean) / (std + STD_EPSILON);
  }
  return out;
}

function groups(prompts: readonly string[]): Map<string, number[]> {
  const byPrompt = new Map<string, number[]>();
  prompts.forEach((p, i) => byPrompt.set(p, [...(byPrompt.get(p) ?? []), i]));
  return byPrompt;
}

/** Mean and population std in float64. */
function moments(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  return { mean, std: Math.sqrt(variance) };
}
