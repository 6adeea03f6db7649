/**
 * The shapes world's pixel evaluator (src/shapes/verdict.ts) as a steering
 * reward. Pure pixel code: edge-safe, no TF.js, no I/O.
 *
 * @module
 */

import type { Image } from "../image.ts";
import { evaluateImage } from "../shapes/verdict.ts";
import type { SteeringReward } from "./reward.ts";

/** What {@link compositionReward} scores. */
export type CompositionScore = "strict" | "partial";

/**
 * A composition reward in [0, 1]: "partial" (default) is the fraction of the
 * prompt's constraints the image meets, "strict" is 1 when all hold. A prompt
 * outside the shapes grammar makes the reward throw (so steering stops with a
 * `RewardError`).
 *
 * @example
 * ```ts
 * import { compositionReward } from "./composition.ts";
 * const reward = compositionReward();
 * const grey = { width: 32, height: 32, channels: 3, data: new Uint8Array(32 * 32 * 3).fill(128) };
 * await reward([grey], ["a red circle"]); // [0]: no red circle
 * ```
 */
export function compositionReward(
  { score = "partial" }: { score?: CompositionScore } = {},
): SteeringReward<Image> {
  if (score !== "strict" && score !== "partial") {
    throw new RangeError(`composition score must be "strict" or "partial", got ${score}`);
  }
  return (images, prompts) => {
    if (images.length !== prompts.length) {
      return Promise.reject(
        new RangeError(`${images.length} images but ${prompts.length} prompts`),
      );
    }
    return Promise.resolve(Float32Array.from(images, (image, i) => {
      const verdict = evaluateImage(image, prompts[i]);
      return score === "strict" ? Number(verdict.strict) : verdict.partial;
    }));
  };
}

/** Rewards the CLI and the service know by name (all edge-safe pixel code). */
export const NAMED_REWARDS: Readonly<Record<string, () => SteeringReward<Image>>> = Object.freeze({
  composition: () => compositionReward(),
  "composition:strict": () => compositionReward({ score: "strict" }),
});

/**
 * The reward called `name` in {@link NAMED_REWARDS}, or a RangeError listing them.
 *
 * @example
 * ```ts
 * import { namedReward } from "./composition.ts";
 * const reward = namedReward("composition");
 * ```
 */
export function namedReward(name: string): SteeringReward<Image> {
  const make = Object.hasOwn(NAMED_REWARDS, name) ? NAMED_REWARDS[name] : undefined;
  if (make === undefined) {
    throw new RangeError(
      `unknown reward ${JSON.stringify(name)}; known: ${Object.keys(NAMED_REWARDS).join(", ")}`,
    );
  }
  return make();
}
