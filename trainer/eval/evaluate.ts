/**
 * Deterministic held-out evaluation (docs/math.md §6): the same prompts,
 * seeds and K-step grids for the base and the trained adapter, scored by
 * strict and partial composition and by two out-of-domain signals that
 * reward hacking would move — JPEG size and within-prompt diversity.
 *
 * @module
 */

import type { Image } from "../../src/image.ts";
import { evaluateImage } from "../../src/shapes/verdict.ts";
import { splitPrompts } from "../data/splits.ts";
import { jpegCompressibility } from "../rewards/compressibility.ts";
import type { ImageSampler } from "./sampler.ts";

/** Which prompts and seeds an evaluation uses. */
export interface EvalPlan {
  /** Held-out prompts. */
  readonly prompts: readonly string[];
  /** Seeds per prompt. */
  readonly seedsPerPrompt: number;
  /** First seed; image `j` of the batch uses `seed + j`. */
  readonly seed: number;
  /** K values. */
  readonly steps: readonly number[];
  /** Images per sampler call. */
  readonly batch: number;
}

/** Scores of one model at one K. */
export interface EvalScores {
  /** Fraction of images meeting every constraint. */
  readonly strict: number;
  /** Mean fraction of constraints met. */
  readonly partial: number;
  /** Mean JPEG size (quality 95) in kB: lower is more compressible. */
  readonly jpegKb: number;
  /**
   * Mean pairwise pixel distance between a prompt's seeds, in [0, 1]
   * (mean absolute byte difference / 255); 0 means every seed gives the same image.
   */
  readonly diversity: number;
}

/** One K's images and scores. */
export interface EvalAtSteps {
  /** K. */
  readonly steps: number;
  /** Scores. */
  readonly scores: EvalScores;
  /** The images, prompt-major (seeds of a prompt consecutive). */
  readonly images: readonly Image[];
}

/**
 * `count` prompts spread evenly over a split (so every category appears).
 *
 * @example
 * ```ts
 * import { spreadPrompts } from "./evaluate.ts";
 * spreadPrompts("train", 4).length; // 4
 * ```
 */
export function spreadPrompts(split: "train" | "eval", count: number): string[] {
  const pool = splitPrompts(split);
  const n = Math.min(count, pool.length);
  return Array.from({ length: n }, (_, i) => pool[Math.floor((i * pool.length) / n)]);
}

/**
 * `count` held-out prompts spread evenly over the eval split (every category).
 *
 * @example
 * ```ts
 * import { heldOutPrompts } from "./evaluate.ts";
 * heldOutPrompts(4).length; // 4
 * ```
 */
export function heldOutPrompts(count: number): string[] {
  return spreadPrompts("eval", count);
}

/** Generates and scores the plan's images with one sampler, for every K. */
export async function evaluateSampler(
  sampler: ImageSampler,
  plan: EvalPlan,
): Promise<EvalAtSteps[]> {
  const prompts = plan.prompts.flatMap((p) => Array<string>(plan.seedsPerPrompt).fill(p));
  const results: EvalAtSteps[] = [];
  for (const steps of plan.steps) {
    const images: Image[] = [];
    for (let start = 0; start < prompts.length; start += plan.batch) {
      const chunk = prompts.slice(start, start + plan.batch);
      images.push(...await sampler.generate(chunk, steps, plan.seed + start));
    }
    results.push({
      steps,
      scores: await scoreImages(images, prompts, plan.seedsPerPrompt),
      images,
    });
  }
  return results;
}

/** Composition, JPEG size and diversity of prompt-major images. */
export async function scoreImages(
  images: readonly Image[],
  prompts: readonly string[],
  seedsPerPrompt: number,
): Promise<EvalScores> {
  const verdicts = images.map((image, i) => evaluateImage(image, prompts[i]));
  const sizes = await jpegCompressibility().score(images, prompts);
  const mean = (values: ArrayLike<number>) =>
    Array.from(values).reduce((a, b) => a + b, 0) / values.length;
  return {
    strict: mean(verdicts.map((v) => Number(v.strict))),
    partial: mean(verdicts.map((v) => v.partial)),
    jpegKb: -mean(sizes),
    diversity: withinPromptDiversity(images, seedsPerPrompt),
  };
}

/**
 * Mean over prompts of the mean pairwise distance between the images of its
 * seeds; the distance is the mean absolute byte difference over 255.
 *
 * @example
 * ```ts
 * import { withinPromptDiversity } from "./evaluate.ts";
 * const black = { width: 1, height: 1, channels: 3, data: new Uint8Array(3) };
 * const white = { ...black, data: new Uint8Array(3).fill(255) };
 * withinPromptDiversity([black, white], 2); // 1
 * ```
 */
export function withinPromptDiversity(images: readonly Image[], seedsPerPrompt: number): number {
  if (seedsPerPrompt < 2) return 0;
  let total = 0, groups = 0;
  for (let start = 0; start + seedsPerPrompt <= images.length; start += seedsPerPrompt) {
    let sum = 0, pairs = 0;
    for (let i = start; i < start + seedsPerPrompt; i++) {
      for (let j = i + 1; j < start + seedsPerPrompt; j++) {
        const a = images[i].data, b = images[j].data;
        let d = 0;
        for (let p = 0; p < a.length; p++) d += Math.abs(a[p] - b[p]);
        sum += d / (255 * a.length);
        pairs++;
      }
    }
    total += sum / pairs;
    groups++;
  }
  return total / groups;
}
