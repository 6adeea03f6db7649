/**
 * Black-box rewards for steering: an async, batched scorer of images against
 * their prompts, and the checks every score passes before it steers.
 *
 * @module
 */

/**
 * Any scorer: one finite score per image, `prompts[i]` belonging to
 * `images[i]`. Higher is better. It is called with batches of candidates.
 *
 * @typeParam I what it scores (the SDK passes {@linkcode Image}s)
 * @example
 * ```ts
 * import type { SteeringReward } from "./reward.ts";
 * import type { Image } from "../image.ts";
 * const brightness: SteeringReward<Image> = (images) =>
 *   Promise.resolve(Float32Array.from(images, (im) => im.data.reduce((a, b) => a + b, 0) / im.data.length));
 * ```
 */
export type SteeringReward<I> = (
  images: readonly I[],
  prompts: readonly string[],
) => Promise<Float32Array>;

/** Why a reward's answer was refused: it threw, or gave NaN/±∞, or the wrong count. */
export type SteeringRewardErrorKind = "failed" | "non-finite" | "length";

/**
 * A steering reward failed; generation stops and returns nothing.
 *
 * @example
 * ```ts
 * import { RewardError } from "./reward.ts";
 * const error = new RewardError("length", "returned 3 scores for 4 images");
 * error.kind; // "length"
 * ```
 */
export class RewardError extends Error {
  /** The failure class. */
  readonly kind: SteeringRewardErrorKind;

  /**
   * Creates the error.
   *
   * @param kind failure class
   * @param message what happened
   * @param options the underlying error
   */
  constructor(kind: SteeringRewardErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(`steering reward: ${message}`, { cause: options.cause });
    this.name = "RewardError";
    this.kind = kind;
  }
}

/**
 * Calls `reward` and returns its scores as float64 after checking them: it
 * must resolve (else `failed`), to `count` values (else `length`), all finite
 * (else `non-finite`).
 *
 * @example
 * ```ts
 * import { callReward } from "./reward.ts";
 * await callReward(() => Promise.resolve(Float32Array.of(1, 2)), [0, 0], ["a", "b"]); // [1, 2]
 * ```
 */
export async function callReward<I>(
  reward: SteeringReward<I>,
  images: readonly I[],
  prompts: readonly string[],
): Promise<Float64Array> {
  let scores: unknown;
  try {
    scores = await reward(images, prompts);
  } catch (cause) {
    throw new RewardError("failed", `it threw: ${(cause as Error)?.message ?? cause}`, { cause });
  }
  const length = (scores as ArrayLike<number> | null)?.length;
  if (
    !(scores instanceof Float32Array || scores instanceof Float64Array || Array.isArray(scores)) ||
    length !== images.length
  ) {
    const got = typeof length === "number" ? `${length} scores` : String(scores);
    throw new RewardError("length", `expected ${images.length} scores, got ${got}`);
  }
  const out = Float64Array.from(scores as ArrayLike<number>);
  const bad = out.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new RewardError("non-finite", `score ${bad} is ${out[bad]}`);
  return out;
}
