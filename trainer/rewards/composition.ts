/**
 * The compositional reward of the shapes world: the pixel evaluator's verdict
 * on each image against its prompt, strict (1 when every constraint holds,
 * else 0), partial (the fraction of constraints that hold), or graded
 * (partial credit times the mean shape-fit quality of the detected objects),
 * or dense (continuous per-constraint terms of the pixels, see
 * {@link denseCompositionScore}, so small changes of an image change its score).
 *
 * @module
 */

import { type DetectedObject, type DetectOptions, MAX_FIT_ERROR } from "../../src/shapes/detect.ts";
import type { RgbImage } from "../../src/shapes/image.ts";
import { parsePrompt, PromptError, type PromptSpec } from "../../src/shapes/prompts.ts";
import { evaluateImage, type Verdict } from "../../src/shapes/verdict.ts";
import { denseCompositionScore } from "./dense.ts";
import { defineReward, type Reward, RewardError } from "./reward.ts";

/** How {@link compositionReward} can turn a verdict into a score. */
export const COMPOSITION_MODES = ["strict", "partial", "graded", "dense"] as const;

/** One of {@link COMPOSITION_MODES}. */
export type CompositionMode = typeof COMPOSITION_MODES[number];

/** Options of {@link compositionReward}. */
export interface CompositionOptions {
  /**
   * "strict" (default) scores 0 or 1; "partial" scores the fraction of
   * constraints met; "graded" scores partial × {@link shapeQuality}; "dense" scores
   * {@link denseCompositionScore}.
   */
  mode?: CompositionMode;
  /** Detector thresholds; the defaults suit the renderer. */
  detect?: DetectOptions;
}

/**
 * The GenEval-like composition reward, range `[0, 1]`, named
 * "composition:<mode>". Prompts outside the grammar
 * throw a {@link RewardError} of kind `input`.
 *
 * @example
 * ```ts
 * import { renderPrompt } from "../data/dataset.ts";
 * import { compositionReward } from "./composition.ts";
 * const reward = compositionReward({ mode: "partial" });
 * const { image } = renderPrompt("two circles", 5);
 * await reward.score([image, image], ["two circles", "three circles"]); // [1, 0.5]
 * ```
 */
export function compositionReward(options: CompositionOptions = {}): Reward {
  const { mode = "strict", detect } = options;
  if (!COMPOSITION_MODES.includes(mode)) {
    throw new RangeError(`mode must be one of ${COMPOSITION_MODES.join(", ")}, got ${mode}`);
  }
  const maxFitError = detect?.maxFitError ?? MAX_FIT_ERROR;
  const verdictScore = {
    strict: (v: Verdict) => Number(v.strict),
    partial: (v: Verdict) => v.partial,
    graded: (v: Verdict) => v.partial * shapeQuality(v.objects, maxFitError),
  };
  const score = mode === "dense"
    ? (image: RgbImage, spec: PromptSpec) => denseCompositionScore(image, spec, detect)
    : (image: RgbImage, spec: PromptSpec) => verdictScore[mode](evaluateImage(image, spec, detect));
  const name = `composition:${mode}`;
  return defineReward(name, [0, 1], (images, prompts) => {
    const specs = prompts.map((prompt, i): PromptSpec => {
      try {
        return parsePrompt(prompt);
      } catch (cause) {
        if (!(cause instanceof PromptError)) throw cause;
        throw new RewardError(name, "input", `prompt ${i}: ${cause.message}`, { cause });
      }
    });
    return Promise.resolve(
      Float32Array.from(images, (image, i) => score(image, specs[i])),
    );
  });
}

/**
 * Mean fit quality of detected objects, `1 − fitError / maxFitError` each
 * (clamped to `[0, 1]`; an unrecognised blob scores 0); 0 without objects.
 *
 * @example
 * ```ts
 * import { shapeQuality } from "./composition.ts";
 * const fits = { circle: 0.09, square: 0.5, triangle: 0.6 };
 * const object = { shape: "circle", color: "red", x: 8, y: 8, area: 40, fits } as const;
 * shapeQuality([{ ...object, fitError: 0.09 }, { ...object, fitError: 0.45 }], 0.45); // 0.4
 * ```
 */
export function shapeQuality(objects: readonly DetectedObject[], maxFitError: number): number {
  if (objects.length === 0) return 0;
  let sum = 0;
  for (const o of objects) sum += Math.min(1, Math.max(0, 1 - o.fitError / maxFitError));
  return sum / objects.length;
}
