/**
 * `generateSteered`: `generate` aligned with a black-box reward at inference
 * time, by Best-of-N or by posterior-sample steering (Meta Flow Maps'
 * gradient-free estimator). It returns the images with their cost, so plain
 * `generate` keeps its `Image[]` result.
 *
 * @module
 */

import { type GenerateOptions, promptsOf } from "../generate.ts";
import { modelGrid } from "../grid.ts";
import { type Image, toImages } from "../image.ts";
import type { Model } from "../onnx/model.ts";
import type { Tensor } from "../flowmap.ts";
import { sampleBestOfN } from "./best_of_n.ts";
import { checkInner, type InnerSchedule } from "./posterior.ts";
import { callReward, type SteeringReward } from "./reward.ts";
import { sampleSteered } from "./steered.ts";

/** The steering methods. */
export const STEERING_METHODS = ["best-of-n", "posterior"] as const;

/** One of {@link STEERING_METHODS}. */
export type SteeringMethod = typeof STEERING_METHODS[number];

/** Largest `particles` accepted. */
export const MAX_PARTICLES = 64;

/** Default `strength` (lambda) of posterior steering, for rewards in [0, 1]. */
export const DEFAULT_STRENGTH = 20;

/** How to steer. */
export interface SteeringOptions {
  /** Any async, batched scorer; higher is better. */
  readonly reward: SteeringReward<Image>;
  /** "best-of-n" keeps the best of N candidates; "posterior" tilts every step. */
  readonly method: SteeringMethod;
  /** N candidates (best-of-n) or M posterior samples per step (posterior), 1…{@link MAX_PARTICLES}. */
  readonly particles: number;
  /** Posterior only: lambda of `exp(lambda·r)` (default {@link DEFAULT_STRENGTH}). */
  readonly strength?: number;
  /** Posterior only: the inner rollout schedule (default `t → t/2 → 0`). */
  readonly inner?: InnerSchedule;
}

/** Options of {@link generateSteered}: {@linkcode GenerateOptions} plus `steering`. */
export interface GenerateSteeredOptions extends GenerateOptions {
  /** The reward and method. */
  readonly steering: SteeringOptions;
}

/** Steered images and their cost. */
export interface SteeredImages {
  /** The images, in prompt order. */
  readonly images: Image[];
  /** Network evaluations per image (plain generation: K). */
  readonly nfe: number;
  /** Candidates the reward scored per image. */
  readonly rewardCalls: number;
}

/**
 * Generates images steered toward high reward. Deterministic given the seed
 * and batch-invariant like {@linkcode generate}; Best-of-N with
 * `particles: 1` gives exactly `generate`'s pixels. Bad options throw a
 * `TypeError` or `RangeError` before any work; a reward that throws, returns
 * non-finite scores or the wrong count throws a {@linkcode RewardError}.
 *
 * @example
 * ```ts ignore
 * import { compositionReward, generateSteered, loadModel } from "./mod.ts";
 * await using model = await loadModel();
 * const { images, nfe } = await generateSteered(model, {
 *   prompt: "two red circles",
 *   seed: 7,
 *   steering: { reward: compositionReward(), method: "posterior", particles: 6 },
 * });
 * ```
 */
export async function generateSteered(
  model: Model,
  options: GenerateSteeredOptions,
): Promise<SteeredImages> {
  const prompts = promptsOf(options);
  const grid = modelGrid(model.info, options);
  const { reward, method, particles, strength, inner } = checkSteering(options.steering);
  if (options.stochastic && method === "posterior") {
    throw new TypeError("posterior steering uses the deterministic samplers; drop stochastic");
  }
  const shape = [prompts.length, ...model.info.imageShape];
  const cond = model.encodePrompts(prompts);
  const owners = prompts.flatMap((p) => Array<string>(particles).fill(p));
  const score = (x0: Tensor) => callReward(reward, toImages(x0), owners);
  const seed = options.seed ?? 0;
  const batch = method === "best-of-n"
    ? await sampleBestOfN(model.flowMap, {
      shape,
      seed,
      grid,
      cond,
      stochastic: options.stochastic,
      particles,
      score,
    })
    : await sampleSteered(model.flowMap, {
      shape,
      seed,
      grid,
      cond,
      particleCond: model.encodePrompts(owners),
      particles,
      strength: strength ?? DEFAULT_STRENGTH,
      inner,
      score,
    });
  return { images: toImages(batch.x), nfe: batch.nfe, rewardCalls: batch.rewardCalls };
}

/**
 * Validates steering options: a function reward, a known method, integer
 * particles in 1…{@link MAX_PARTICLES}, a finite strength.
 *
 * @example
 * ```ts
 * import { checkSteering } from "./generate_steered.ts";
 * checkSteering({ reward: () => Promise.resolve(new Float32Array()), method: "best-of-n", particles: 4 });
 * ```
 */
export function checkSteering(steering: SteeringOptions): SteeringOptions {
  if (typeof steering !== "object" || steering === null) {
    throw new TypeError("steering must be an object { reward, method, particles }");
  }
  const { reward, method, particles, strength } = steering;
  if (typeof reward !== "function") {
    throw new TypeError(`steering.reward must be a function (images, prompts) → scores`);
  }
  if (!STEERING_METHODS.includes(method)) {
    throw new TypeError(
      `steering.method must be one of ${STEERING_METHODS.join(", ")}, got ${
        JSON.stringify(method)
      }`,
    );
  }
  if (!Number.isSafeInteger(particles) || particles < 1 || particles > MAX_PARTICLES) {
    throw new RangeError(
      `steering.particles must be an integer in 1…${MAX_PARTICLES}, got ${particles}`,
    );
  }
  if (strength !== undefined && (typeof strength !== "number" || !Number.isFinite(strength))) {
    throw new RangeError(`steering.strength must be a finite number, got ${strength}`);
  }
  if (method === "best-of-n" && (strength !== undefined || steering.inner !== undefined)) {
    throw new TypeError('steering.strength and steering.inner apply to method "posterior" only');
  }
  if (method === "posterior") checkInner(steering.inner);
  return steering;
}

/**
 * Network evaluations per image that {@link generateSteered} will spend, known
 * before any work (for budgets): best-of-n `N·K`; posterior
 * `K·(2 + M·n)` for a two-time map, `K·(1 + M·n)` for a one-time map, with
 * `n` inner fractions.
 *
 * @example
 * ```ts
 * import { steeringNfe } from "./generate_steered.ts";
 * steeringNfe("two-time", 2, { method: "posterior", particles: 6 }); // 2 · (2 + 6) = 16
 * ```
 */
export function steeringNfe(
  kind: "two-time" | "one-time",
  steps: number,
  steering: Pick<SteeringOptions, "method" | "particles" | "inner">,
): number {
  if (steering.method === "best-of-n") return steering.particles * steps;
  const inner = checkInner(steering.inner).length;
  return steps * ((kind === "two-time" ? 2 : 1) + steering.particles * inner);
}
