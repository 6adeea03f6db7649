/**
 * Seeded examples of the shapes world: prompt text, its spec, the scene and
 * the rendered image — what pretraining and evaluation draw from.
 *
 * @module
 */

import { UniformStream } from "../../src/rng.ts";
import type { RgbImage } from "../../src/shapes/image.ts";
import { parsePrompt, type PromptSpec } from "../../src/shapes/prompts.ts";
import { renderScene, type Scene } from "../../src/shapes/render.ts";
import { sampleScene, type SceneOptions } from "../../src/shapes/scene.ts";
import { splitPrompts, trainingColors } from "./splits.ts";

/** One rendered example. */
export interface Example {
  /** The normalised prompt. */
  readonly prompt: string;
  /** Its parse. */
  readonly spec: PromptSpec;
  /** The layout drawn. */
  readonly scene: Scene;
  /** The picture. */
  readonly image: RgbImage;
}

/** Sub-stream of a seed's uniforms that picks training prompts ("PRMT"). */
export const PROMPT_STREAM = 0x50524d54;

/**
 * Renders a prompt deterministically from a seed.
 *
 * @example
 * ```ts
 * import { renderPrompt } from "./dataset.ts";
 * const { image, scene } = renderPrompt("a green triangle above a yellow circle", 3);
 * ```
 */
export function renderPrompt(
  prompt: string | PromptSpec,
  seed: number,
  options?: SceneOptions,
): Example {
  const spec = typeof prompt === "string" ? parsePrompt(prompt) : prompt;
  const scene = sampleScene(spec, seed, options);
  return { prompt: spec.prompt, spec, scene, image: renderScene(scene) };
}

/**
 * A training example for `seed`: a prompt drawn uniformly from the train split
 * and a scene whose open colours avoid the held-out bindings.
 *
 * @example
 * ```ts
 * import { trainingExample } from "./dataset.ts";
 * const batch = [0, 1, 2, 3].map((i) => trainingExample(1000 + i));
 * ```
 */
export function trainingExample(
  seed: number,
  options: Omit<SceneOptions, "openColors"> = {},
): Example {
  const prompts = splitPrompts("train");
  const prompt = prompts[new UniformStream(seed, PROMPT_STREAM).nextInt(prompts.length)];
  return renderPrompt(prompt, seed, { ...options, openColors: trainingColors });
}
