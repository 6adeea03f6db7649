/**
 * The reward interface: a named function from images and their prompts to one
 * score per image, with a declared range. Each image is scored on its own:
 * batches are for throughput, so a batch may be scored in slices, in any
 * thread. Every score that leaves
 * {@link defineReward} or {@link checkedScore} has been validated; a bad one
 * throws {@link RewardError}, whose `kind` lets the caller decide whether to
 * skip the batch or stop the run.
 *
 * @module
 */

import { checkRgbImage, type RgbImage } from "../../src/shapes/image.ts";
import { RewardError, type RewardErrorKind } from "../../src/steer/reward.ts";

export { RewardError, type RewardErrorKind };

/** A reward model. */
export interface Reward {
  /** Short name used in logs and errors, e.g. "composition:strict". */
  readonly name: string;
  /** Inclusive bounds every score lies in (either may be infinite). */
  readonly range: readonly [number, number];
  /**
   * One score per image; `prompts[i]` is the prompt of `images[i]`. Score `i`
   * depends on `images[i]` and `prompts[i]` alone, not on the rest of the batch.
   */
  score(images: readonly RgbImage[], prompts: readonly string[]): Promise<Float32Array>;
}

/**
 * Scores a batch with any {@link Reward} and validates the result: the batch
 * must pair images with prompts one to one, and the reward must return a
 * `Float32Array` of one finite in-range score per image. Throws
 * {@link RewardError} otherwise (a reward's own exceptions become `failed`).
 */
export async function checkedScore(
  reward: Reward,
  images: readonly RgbImage[],
  prompts: readonly string[],
): Promise<Float32Array> {
  if (images.length !== prompts.length) {
    throw new RewardError(
      reward.name,
      "input",
      `${images.length} images but ${prompts.length} prompts`,
    );
  }
  let scores: Float32Array;
  try {
    scores = await reward.score(images, prompts);
  } catch (cause) {
    if (cause instanceof RewardError) throw cause;
    throw new RewardError(reward.name, "failed", `threw: ${(cause as Error)?.message ?? cause}`, {
      cause,
    });
  }
  if (!(scores instanceof Float32Array) || scores.length !== images.length) {
    const got = scores instanceof Float32Array ? `${scores.length} scores` : `a ${typeof scores}`;
    throw new RewardError(reward.name, "length", `returned ${got} for ${images.length} images`);
  }
  const bad = indicesWhere(scores, (s) => !Number.isFinite(s));
  if (bad.length > 0) {
    throw new RewardError(reward.name, "non-finite", `returned ${scores[bad[0]]} at ${list(bad)}`, {
      indices: bad,
    });
  }
  const [low, high] = reward.range;
  // float32 rounding slack, relative to the finite bounds
  const slack = 1e-6 * Math.max(1, ...[low, high].filter(Number.isFinite).map(Math.abs));
  const out = indicesWhere(scores, (s) => s < low - slack || s > high + slack);
  if (out.length > 0) {
    throw new RewardError(
      reward.name,
      "range",
      `returned ${scores[out[0]]} outside [${low}, ${high}] at ${list(out)}`,
      { indices: out },
    );
  }
  return scores;
}

/**
 * Makes a {@link Reward} from a scoring function; its `score` is validated by
 * {@link checkedScore}.
 *
 * @example A reward for bright images
 * ```ts
 * import { defineReward } from "./reward.ts";
 * const brightness = defineReward("brightness", [0, 1], (images) =>
 *   Promise.resolve(Float32Array.from(images, (im) => im.data.reduce((a, b) => a + b, 0) / im.data.length / 255)));
 * ```
 */
export function defineReward(
  name: string,
  range: readonly [number, number],
  score: (images: readonly RgbImage[], prompts: readonly string[]) => Promise<Float32Array>,
): Reward {
  if (!(range[0] <= range[1])) throw new RangeError(`reward "${name}": range [${range}] is empty`);
  const raw: Reward = { name, range: [range[0], range[1]], score };
  return { name, range: raw.range, score: (images, prompts) => checkedScore(raw, images, prompts) };
}

/**
 * A {@link defineReward} whose score is a function of each image alone; every
 * image is checked to be 8-bit RGB first.
 *
 * @example
 * ```ts
 * import { definePerImageReward } from "./reward.ts";
 * const red = definePerImageReward("red", [0, 255], (image) => image.data[0]);
 * ```
 */
export function definePerImageReward(
  name: string,
  range: readonly [number, number],
  score: (image: RgbImage) => number,
): Reward {
  return defineReward(
    name,
    range,
    (images) =>
      Promise.resolve(Float32Array.from(images, (image, i) => {
        checkRgbImage(image, `image ${i}`);
        return score(image);
      })),
  );
}

/** One term of {@link weightedSum}. */
export interface WeightedTerm {
  /** The reward. */
  readonly reward: Reward;
  /** Its finite weight (negative to penalise). */
  readonly weight: number;
}

/**
 * The weighted sum `Σ wᵢ·rᵢ` of rewards, scored concurrently; its range is
 * the interval sum of the weighted ranges. A failing term fails the sum with
 * that term's {@link RewardError}.
 *
 * @example Composition with a small compressibility bonus
 * ```ts
 * import { compositionReward } from "./composition.ts";
 * import { jpegCompressibility } from "./compressibility.ts";
 * import { weightedSum } from "./reward.ts";
 * const reward = weightedSum([
 *   { reward: compositionReward({ mode: "partial" }), weight: 1 },
 *   { reward: jpegCompressibility(), weight: 0.1 },
 * ]);
 * ```
 */
export function weightedSum(terms: readonly WeightedTerm[], name?: string): Reward {
  if (terms.length === 0) throw new RangeError("weightedSum needs at least one term");
  for (const { reward, weight } of terms) {
    if (!Number.isFinite(weight)) {
      throw new RangeError(`weight of "${reward.name}" must be finite, got ${weight}`);
    }
  }
  let low = 0, high = 0;
  for (const { reward: { range: [a, b] }, weight } of terms) {
    if (weight === 0) continue;
    low += weight > 0 ? weight * a : weight * b;
    high += weight > 0 ? weight * b : weight * a;
  }
  const label = name ?? terms.map(({ reward, weight }) => `${weight}*${reward.name}`).join("+");
  return defineReward(label, [low, high], async (images, prompts) => {
    const parts = await Promise.all(
      terms.map(({ reward }) => checkedScore(reward, images, prompts)),
    );
    const total = new Float32Array(images.length);
    parts.forEach((scores, t) => scores.forEach((s, i) => (total[i] += terms[t].weight * s)));
    return total;
  });
}

/** A {@linkcode RewardError}'s fields, as they cross between threads. */
export interface RewardFailure {
  /** The failing reward's name. */
  readonly reward: string;
  /** The failure class. */
  readonly kind: RewardErrorKind;
  /** The message after the reward's name. */
  readonly detail: string;
  /** The offending indices. */
  readonly indices: readonly number[];
}

/**
 * The fields of a {@linkcode RewardError}; `new RewardError(reward, kind,
 * detail, { indices })` makes it again.
 *
 * @example
 * ```ts
 * import { RewardError, rewardFailure } from "./reward.ts";
 * rewardFailure(new RewardError("r", "range", "returned 2 outside [0, 1] at index 0", { indices: [0] })).detail;
 * // "returned 2 outside [0, 1] at index 0"
 * ```
 */
export function rewardFailure(error: RewardError): RewardFailure {
  const { reward, kind, indices } = error;
  return { reward, kind, detail: error.message.replace(`reward "${reward}": `, ""), indices };
}

function indicesWhere(scores: Float32Array, test: (s: number) => boolean): number[] {
  const out: number[] = [];
  scores.forEach((s, i) => test(s) && out.push(i));
  return out;
}

function list(indices: readonly number[]): string {
  const shown = indices.slice(0, 8).join(", ");
  return `index ${shown}${indices.length > 8 ? `, … (${indices.length} in all)` : ""}`;
}
