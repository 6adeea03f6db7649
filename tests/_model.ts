/**
 * Shared fixtures for the model suites: tiny configs, random weights and
 * inputs from seeded Philox streams, and runners for TF.js and ONNX Runtime.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import * as ort from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";
import { meanFlowConfig, type ModelConfig, scmConfig } from "../trainer/model/config.ts";
import type { OnnxModelFiles, TokenizerDescription } from "../trainer/model/onnx.ts";
export { randomParameters } from "../trainer/model/parameters.ts";
import type { LinearAdapter, TfFlowMap } from "../trainer/model/tfjs.ts";
import { NormalStream } from "../src/rng.ts";

const tiny = { depth: 2, hiddenDim: 32, heads: 2, textDim: 16, frequencyDim: 16 };

/** Tiny versions of the two default configs (depth 2, width 32). */
export const tinyConfigs: readonly ModelConfig[] = [
  { ...meanFlowConfig, ...tiny },
  { ...scmConfig, ...tiny },
];

/** A tokenizer description that fits a config. */
export function fakeTokenizer(config: ModelConfig): TokenizerDescription {
  const vocabulary = Array.from({ length: config.vocabSize }, (_, i) => `w${i}`);
  return { version: "test", maxTokens: config.textLength, vocabulary };
}

/** Host-side network inputs. */
export interface HostInputs {
  x: Float32Array;
  t: Float32Array;
  r?: Float32Array;
  tokens: Int32Array;
  batch: number;
}

/** Random images, times inside the path's range (r ≤ t), and token ids. */
export function randomInputs(config: ModelConfig, batch: number, seed: number): HostInputs {
  const stream = new NormalStream(seed);
  const x = stream.fill(new Float32Array(batch * config.channels * config.imageSize ** 2));
  const tMax = config.path.name === "trigflow" ? Math.PI / 2 : 1;
  const unit = (i: number) => (i + 0.5) / batch;
  const t = Float32Array.from({ length: batch }, (_, i) => tMax * unit(i));
  const r = config.kind === "two-time"
    ? Float32Array.from(t, (ti, i) => ti * (i % 2 === 0 ? 0 : 0.5))
    : undefined;
  const tokens = Int32Array.from(
    { length: batch * config.textLength },
    (_, i) => (i * 7 + seed) % config.vocabSize,
  );
  return { x, t, r, tokens, batch };
}

/** Runs the TF.js model and returns its output on the host. */
export function runTf(
  model: TfFlowMap,
  inputs: HostInputs,
  adapter?: LinearAdapter,
): Float32Array {
  const c = model.config;
  return tf.tidy(() =>
    model.forward({
      x: tf.tensor4d(inputs.x, [inputs.batch, c.channels, c.imageSize, c.imageSize]),
      t: tf.tensor1d(inputs.t),
      r: inputs.r && tf.tensor1d(inputs.r),
      tokens: tf.tensor2d(inputs.tokens, [inputs.batch, c.textLength], "int32"),
    }, adapter).dataSync() as Float32Array
  ).slice();
}

/** Runs an emitted model in onnxruntime-node (or -web), optionally with other external data bytes. */
export async function runOrt(
  config: ModelConfig,
  files: OnnxModelFiles,
  inputs: HostInputs,
  options: { externalData?: Uint8Array; runtime?: "node" | "web" } = {},
): Promise<Float32Array> {
  const runtime = (options.runtime ?? "node") === "node" ? ort : ortWeb as unknown as typeof ort;
  const session = await runtime.InferenceSession.create(files.model, {
    externalData: [{
      path: files.externalDataFile,
      data: options.externalData ?? files.externalData,
    }],
  });
  const b = inputs.batch;
  const tensor = (type: "float32" | "int32", data: Float32Array | Int32Array, dims: number[]) =>
    new runtime.Tensor(type, data, dims);
  const feeds: Record<string, ort.Tensor> = {
    x: tensor("float32", inputs.x, [b, config.channels, config.imageSize, config.imageSize]),
    t: tensor("float32", inputs.t, [b]),
    tokens: tensor("int32", inputs.tokens, [b, config.textLength]),
  };
  if (inputs.r !== undefined) feeds.r = tensor("float32", inputs.r, [b]);
  const outputs = await session.run(feeds);
  await session.release();
  return outputs[session.outputNames[0]].data as Float32Array;
}

/** Largest absolute element-wise difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
