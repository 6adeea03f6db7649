/**
 * The evaluation's one seam to the inference stack: deterministic K-step
 * images through the SDK (`loadModel` + `withAdapters` + `generate`), from
 * the base model and from the base with an exported adapter file merged in.
 * Evaluation only ever sees an adapter as safetensors bytes, so what it
 * measures is exactly what `generate` and the service serve.
 *
 * @module
 */

import { generate } from "../../src/generate.ts";
import type { Image } from "../../src/image.ts";
import { loadModel, type Model } from "../../src/onnx/model.ts";
import type { ModelSource } from "../../src/onnx/source.ts";

/** Deterministic images of one model (base or base + adapter). */
export interface ImageSampler {
  /**
   * K-step images of `prompts` on the model's grid (`modelGrid`: its default
   * grid at its default K, else K steps at its shift), as `generate` and the
   * service sample; image `i` uses seed `seed + i`.
   */
  generate(prompts: readonly string[], steps: number, seed: number): Promise<Image[]>;
  /** Releases the inference session. */
  dispose(): Promise<void>;
}

/** The served base model and a way to serve it with an adapter file. */
export interface ServedModel {
  /** The base weights. */
  readonly base: ImageSampler;
  /** The base with a safetensors LoRA adapter merged at scale 1. */
  withAdapter(safetensors: Uint8Array): Promise<ImageSampler>;
}

/**
 * Loads a model with the SDK (onnxruntime-node).
 *
 * @example
 * ```ts ignore
 * import { servedModel } from "./sampler.ts";
 * const served = await servedModel("src/models/shapes-meanflow/model.onnx");
 * const images = await served.base.generate(["a red circle"], 2, 0);
 * ```
 */
export async function servedModel(source: ModelSource): Promise<ServedModel> {
  const base = await loadModel(source);
  return {
    base: sampler(base),
    async withAdapter(safetensors) {
      return sampler(await base.withAdapters([{ source: safetensors, scale: 1 }]));
    },
  };
}

function sampler(model: Model): ImageSampler {
  return {
    generate: (prompts, steps, seed) => generate(model, { prompts, steps, seed }),
    dispose: () => model.dispose(),
  };
}
