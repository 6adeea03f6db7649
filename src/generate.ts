/**
 * `generate`: prompts to images with a loaded model in a few flow-map steps.
 *
 * @module
 */

import { modelGrid } from "./grid.ts";
import { type Image, toImages } from "./image.ts";
import type { Model } from "./onnx/model.ts";
import type { AnchorOptions } from "./anchor.ts";
import { sample } from "./sampler.ts";

/** Options of {@linkcode generate}: one `prompt` (with `n`) or a list of `prompts`. */
export interface GenerateOptions {
  /** The prompt of every image. */
  readonly prompt?: string;
  /** One image per prompt, all in one batch (instead of `prompt`). */
  readonly prompts?: readonly string[];
  /** Images of `prompt` (default 1). */
  readonly n?: number;
  /**
   * Sampling steps K. The model's default grid when K is its default step
   * count (or when none of `steps`, `shift` and `grid` is given), otherwise
   * the K-step grid of the model's path at the model's shift (docs/math.md §3;
   * {@linkcode modelGrid}).
   */
  readonly steps?: number;
  /**
   * Shift `m ≥ 1` of the K-step rectified-flow grid instead of the model's
   * own (`ModelInfo.shift`); TrigFlow models take only 1.
   */
  readonly shift?: number;
  /** An explicit grid `t_0 > … > t_K = 0` inside the model's time range. */
  readonly grid?: readonly number[];
  /** Image `i` uses seed `seed + i` (default 0): a batch equals its images drawn alone. */
  readonly seed?: number;
  /** ASFMC for more diverse samples (docs/math.md §5); default: the deterministic samplers (§4). */
  readonly stochastic?: AnchorOptions;
}

/**
 * Generates images, the whole batch in one model evaluation per step. The
 * same prompt, seed and grid give the same pixels across runs, batch sizes
 * and processes.
 *
 * @example
 * ```ts ignore
 * import { encodeImage, generate, loadModel } from "./mod.ts";
 * await using model = await loadModel();
 * const images = await generate(model, { prompt: "two red circles", n: 4, seed: 7 });
 * for (const [i, image] of images.entries()) {
 *   await Deno.writeFile(`out-${i}.png`, await encodeImage(image, "png"));
 * }
 * ```
 */
export async function generate(model: Model, options: GenerateOptions): Promise<Image[]> {
  const prompts = promptsOf(options);
  const cond = model.encodePrompts(prompts);
  const batch = await sample(model.flowMap, {
    shape: [prompts.length, ...model.info.imageShape],
    seed: options.seed ?? 0,
    grid: modelGrid(model.info, options),
    cond,
    stochastic: options.stochastic,
  });
  return toImages(batch);
}

/** The prompt of every image, or a TypeError/RangeError (internal; not in mod.ts). */
export function promptsOf({ prompt, prompts, n }: GenerateOptions): readonly string[] {
  if ((prompt === undefined) === (prompts === undefined)) {
    throw new TypeError("generate needs either prompt (with n) or prompts");
  }
  if (prompts !== undefined) {
    if (n !== undefined) throw new TypeError("n applies to prompt; with prompts, list each one");
    if (!Array.isArray(prompts) || prompts.length === 0 || !prompts.every(isString)) {
      throw new TypeError("prompts must be a non-empty list of strings");
    }
    return prompts;
  }
  if (!isString(prompt)) throw new TypeError(`prompt must be a string, got ${typeof prompt}`);
  const count = n ?? 1;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new RangeError(`n must be a positive integer, got ${n}`);
  }
  return Array.from({ length: count }, () => prompt);
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}
