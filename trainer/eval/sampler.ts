/**
 * The evaluation's one seam to the inference stack: deterministic K-step
 * images from the base model and from the base with an exported adapter file.
 * Evaluation only ever sees an adapter as safetensors bytes, so it measures
 * the file that is exported and served.
 *
 * This implementation wraps the TF.js network as a `FlowMap` and samples it
 * with the SDK's deterministic samplers (`src/sampler.ts`, spec/math.md §4);
 * the adapter file is parsed with the SDK's reader and applied as LoRA.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { FlowMap, Tensor } from "../../src/flowmap.ts";
import { type Image, toImages } from "../../src/image.ts";
import { parseLoraAdapter } from "../../src/lora/adapter.ts";
import { sample } from "../../src/sampler.ts";
import type { Tokenizer } from "../../src/text.ts";
import { pathOf } from "../model/config.ts";
import { LoraAdapter } from "../model/lora.ts";
import type { LinearAdapter, TfFlowMap } from "../model/tfjs.ts";

/** Deterministic images of one model (base or base + adapter). */
export interface ImageSampler {
  /** K-step images of `prompts`; image `i` uses seed `seed + i`. */
  generate(prompts: readonly string[], steps: number, seed: number): Promise<Image[]>;
  /** Releases what the sampler holds. */
  dispose(): void;
}

/** The base model and a way to serve it with an adapter file. */
export interface ServedModel {
  /** The base weights. */
  readonly base: ImageSampler;
  /** The base with a safetensors LoRA adapter applied at scale 1. */
  withAdapter(safetensors: Uint8Array): ImageSampler;
}

/**
 * Serves a TF.js base model through `src/sampler.ts`.
 *
 * @example
 * ```ts ignore
 * import { servedModel } from "./sampler.ts";
 * const served = servedModel(model, shapesTokenizer);
 * const images = await served.base.generate(["a red circle"], 2, 0);
 * ```
 */
export function servedModel(model: TfFlowMap, tokenizer: Tokenizer): ServedModel {
  return {
    base: tfSampler(model, tokenizer),
    withAdapter(safetensors) {
      const adapter = adapterFromFile(model, safetensors);
      return tfSampler(model, tokenizer, adapter, () => adapter.dispose());
    },
  };
}

/** A LoRA adapter for `model` holding exactly the weights of a safetensors file. */
export function adapterFromFile(model: TfFlowMap, safetensors: Uint8Array): LoraAdapter {
  const parsed = [...parseLoraAdapter(safetensors).modules.values()];
  const ranks = new Set(parsed.map((m) => m.rank)), alphas = new Set(parsed.map((m) => m.alpha));
  if (ranks.size !== 1 || alphas.size !== 1) {
    throw new RangeError("the trainer's adapters share one rank and one alpha");
  }
  const lora = new LoraAdapter(model.config, {
    rank: parsed[0].rank,
    alpha: parsed[0].alpha,
    targets: parsed.map((m) => m.module),
  });
  tf.tidy(() => {
    for (const m of parsed) {
      lora.a.get(m.module)?.assign(tf.tensor2d(m.a, [m.rank, m.inFeatures]));
      lora.b.get(m.module)?.assign(tf.tensor2d(m.b, [m.outFeatures, m.rank]));
    }
  });
  return lora;
}

function tfSampler(
  model: TfFlowMap,
  tokenizer: Tokenizer,
  adapter?: LinearAdapter,
  release: () => void = () => {},
): ImageSampler {
  const map = tfFlowMap(model, adapter);
  const c = model.config;
  return {
    async generate(prompts, steps, seed) {
      const batch = await sample(map, {
        shape: [prompts.length, c.channels, c.imageSize, c.imageSize],
        seed,
        grid: steps,
        cond: tokenizer.encodeBatch(prompts),
      });
      return toImages(batch);
    },
    dispose: release,
  };
}

/**
 * The TF.js network (with an optional adapter) as an SDK flow map whose
 * conditioning is token ids, for `src/sampler.ts`.
 *
 * @example
 * ```ts ignore
 * import { sample } from "../../src/sampler.ts";
 * const images = await sample(tfFlowMap(model), { shape: [1, 3, 32, 32], seed: 0, grid: 2, cond: tokens });
 * ```
 */
export function tfFlowMap(model: TfFlowMap, adapter?: LinearAdapter): FlowMap<Int32Array> {
  const c = model.config;
  const run = (x: Tensor, t: number, r: number | undefined, tokens?: Int32Array) => {
    if (tokens === undefined) throw new RangeError("the flow map needs prompt tokens");
    const b = x.shape[0];
    const out = tf.tidy(() =>
      model.forward({
        x: tf.tensor4d(x.data, [b, c.channels, c.imageSize, c.imageSize]),
        t: tf.fill([b], t) as tf.Tensor1D,
        r: r === undefined ? undefined : tf.fill([b], r) as tf.Tensor1D,
        tokens: tf.tensor2d(tokens, [b, c.textLength], "int32"),
      }, adapter)
    );
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return Promise.resolve(data);
  };
  const path = pathOf(c);
  return c.kind === "two-time"
    ? { kind: "two-time", path, average: (x, r, t, tokens) => run(x, t, r, tokens) }
    : { kind: "one-time", path, endpoint: (x, t, tokens) => run(x, t, undefined, tokens) };
}
