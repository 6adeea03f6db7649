/**
 * The compositional reward of the shapes world: the pixel evaluator's verdict
 * on each image against its prompt, strict (1 when every constraint holds,
 * else 0) or partial (the fraction of constraints that hold).
 *
 * @module
 */

import type { DetectOptions } from "../data/detect.ts";
import { parsePrompt, PromptError, type PromptSpec } from "../data/prompts.ts";
import { evaluateImage } from "../data/verdict.ts";
import { defineReward, type Reward, RewardError } from "./reward.ts";

/** Options of {@link compositionReward}. */
export interface CompositionOptions {
  /** "strict" (default) scores 0 or 1; "partial" scores the fraction of constraints met. */
  mode?: "strict" | "partial";
  /** Detector thresholds; the defaults suit the renderer. */
  detect?: DetectOptions;
}

/**
 * The GenEval-like composition reward, range `[0, 1]`, named
 * "composition:strict" or "composition:partial". Prompts outside the grammar
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
  if (mode !== "strict" && mode !== "partial") {
    throw new RangeError(`mode must be strict or partial, got ${mode}`);
  }
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
    return Promise.resolve(Float32Array.from(images, (image, i) => {
      const verdict = evaluateImage(image, specs[i], detect);
      return mode === "strict" ? Number(verdict.strict) : verdict.partial;
    }));
  });
}
