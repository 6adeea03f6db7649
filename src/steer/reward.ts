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

/**
 * What went wrong:
 * - `input`: the caller's batch is invalid (mismatched lengths, a prompt the reward cannot read);
 * - `failed`: the reward threw or its service failed (after any retries);
 * - `length`: it returned the wrong number of scores;
 * - `non-finite`: it returned NaN or ±Infinity;
 * - `range`: it returned a score outside its declared range.
 */
export type RewardErrorKind = "input" | "failed" | "length" | "non-finite" | "range";

/**
 * A reward could not produce valid scores for a batch: generation (or a
 * training step) stops and returns nothing.
 *
 * @example
 * ```ts
 * import { RewardError } from "./reward.ts";
 * new RewardError("composition", "range", "score 2 is 1.5").message; // 'reward "composition": score 2 is 1.5'
 * ```
 */
export class RewardError extends Error {
  /** Name of the reward that failed. */
  readonly reward: string;
  /** The failure class. */
  readonly kind: RewardErrorKind;
  /** Batch positions of offending scores (for `non-finite` and `range`). */
  readonly indices: readonly number[];

  /**
   * Creates the error; its message is prefixed with the reward's name.
   *
   * @param reward name of the failing reward
   * @param kind failure class
   * @param message what happened
   * @param options the underlying error and offending indices
   */
  constructor(
    reward: string,
    kind: RewardErrorKind,
    message: string,
    options: { cause?: unknown; indices?: readonly number[] } = {},
  ) {
    super(`reward "${reward}": ${message}`, { cause: options.cause });
    this.name = "RewardError";
    this.reward = reward;
    this.kind = kind;
    this.indices = options.indices ?? [];
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
    throw new RewardError("steering", "failed", `it threw: ${(cause as Error)?.message ?? cause}`, {
      cause,
    });
  }
  const length = (scores as ArrayLike<number> | null)?.length;
  if (
    !(scores instanceof Float32Array || scores instanceof Float64Array || Array.isArray(scores)) ||
    length !== images.length
  ) {
    const got = typeof length === "number" ? `${length} scores` : String(scores);
    throw new RewardError("steering", "length", `expected ${images.length} scores, got ${got}`);
  }
  const out = Float64Array.from(scores as ArrayLike<number>);
  const bad = out.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new RewardError("steering", "non-finite", `score ${bad} is ${out[bad]}`);
  return out;
}
