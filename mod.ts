/**
 * Few-step image generation with flow maps — MeanFlow two-time maps and
 * consistency-model (sCM) one-time maps — and the shared math of Flow-Map
 * GRPO's stochastic rollouts.
 *
 * This module re-exports the SDK surface from `src/`. It stays importable on
 * edge runtimes: nothing here loads TF.js, FFI or the file system; ONNX
 * Runtime (`"node"` or `"web"`) is imported when a model is loaded, and sharp
 * when an image is encoded.
 *
 * @example Two steps of the bundled MeanFlow model, written as PNG
 * ```ts ignore
 * import { encodeImage, generate, loadModel } from "./mod.ts";
 *
 * await using model = await loadModel(); // or a path, URL or { model, weights } bytes
 * const [image] = await generate(model, { prompt: "two red circles", steps: 2, seed: 7 });
 * await Deno.writeFile("out.png", await encodeImage(image, "png"));
 * ```
 *
 * @example A seeded ASFMC endpoint-anchor step on rectified flow
 * ```ts
 * import { BatchNoise, combine2, endpointAnchor, rectifiedFlow, sampleGaussian } from "./mod.ts";
 *
 * const x = new Float32Array(4).fill(0.5); // x_t at t = 0.8
 * const x0Hat = new Float32Array(4).fill(1); // the flow map's X(t → 0)(x_t)
 * const step = endpointAnchor(rectifiedFlow, 0.8, 0.4, { eta: 1 });
 * const mean = combine2(new Float32Array(4), step.mean.x, x, step.mean.x0, x0Hat);
 * const xs = sampleGaussian(new Float32Array(4), mean, step.std, new BatchNoise([42]));
 * ```
 *
 * @module
 */

export * from "./src/path.ts";
export * from "./src/grid.ts";
export * from "./src/anchor.ts";
export * from "./src/logprob.ts";
export * from "./src/rng.ts";
export { SamplingNoise } from "./src/noise.ts";
export * from "./src/text.ts";
export * from "./src/ops.ts";
export * from "./src/flowmap.ts";
export * from "./src/transition.ts";
export * from "./src/sampler.ts";
export * from "./src/image.ts";
export * from "./src/lora/safetensors.ts";
export * from "./src/lora/adapter.ts";
export * from "./src/lora/merge.ts";
export { generate, type GenerateOptions } from "./src/generate.ts";
export * from "./src/steer/generate_steered.ts";
export { RewardError, type RewardErrorKind, type SteeringReward } from "./src/steer/reward.ts";
export {
  ancestralEta,
  DEFAULT_INNER_FRACTIONS,
  type InnerSchedule,
  type PosteriorOptions,
  type PosteriorSamples,
  posteriorSamples,
} from "./src/steer/posterior.ts";
export * from "./src/steer/steered.ts";
export * from "./src/steer/best_of_n.ts";
export * from "./src/steer/composition.ts";
export {
  type AdapterSpec,
  loadModel,
  type LoadModelOptions,
  type Model,
} from "./src/onnx/model.ts";
export * from "./src/onnx/model_error.ts";
export {
  type FlowMapKind,
  type ModelInfo,
  parseModelInfo,
  readModelInfo,
} from "./src/onnx/model_info.ts";
export {
  type ModelBytes,
  type ModelFiles,
  type ModelSource,
  readModelFiles,
} from "./src/onnx/source.ts";
export type { RuntimeName } from "./src/onnx/runtime.ts";
