/**
 * The flow-map network's architecture as data: one {@link ModelConfig} fixes
 * every shape, and every emitter (TF.js, ONNX, cost counter) reads it.
 *
 * @module
 */

import { type PathName, type ProbabilityPath, rectifiedFlow, trigFlow } from "../../src/path.ts";
import type { FlowMapKind } from "../../src/onnx/model_info.ts";
import { SHAPES_MAX_TOKENS, SHAPES_VOCABULARY } from "../../src/text.ts";

/** The probability path a model is trained on, as recorded in its file (docs/math.md §1). */
export interface PathConfig {
  /** Path name. */
  readonly name: PathName;
  /** TrigFlow data scale; 1 for rectified flow. */
  readonly sigmaD: number;
}

/**
 * A small MMDiT (FLUX-style double-stream transformer) over image patches and
 * prompt tokens, conditioned by adaptive LayerNorm on time embeddings.
 */
export interface ModelConfig {
  /** Which flow map the network represents. */
  readonly kind: FlowMapKind;
  /** Path the map transports along. */
  readonly path: PathConfig;
  /** Square image side in pixels. */
  readonly imageSize: number;
  /** Image channels (input and output). */
  readonly channels: number;
  /** Side of the square patches that become image tokens. */
  readonly patchSize: number;
  /** Token width of the transformer. */
  readonly hiddenDim: number;
  /** Number of double-stream (image + text) transformer blocks. */
  readonly depth: number;
  /** Attention heads; `hiddenDim` must be divisible by it. */
  readonly heads: number;
  /** Feed-forward width as a multiple of `hiddenDim`. */
  readonly mlpRatio: number;
  /** Number of prompt tokens (fixed, padded). */
  readonly textLength: number;
  /** Size of the prompt vocabulary (token ids lie in `[0, vocabSize)`). */
  readonly vocabSize: number;
  /** Width of the learned token embeddings before `context_embedder`. */
  readonly textDim: number;
  /** Width of the sinusoidal time embedding (even). */
  readonly frequencyDim: number;
  /**
   * Hidden width of the output head (`proj_hidden`, GELU, then `proj_out`);
   * 0 or absent: `proj_out` alone. A linear head spans only `hiddenDim`
   * directions per patch, fewer than the `channels · patchSize²` values of
   * sharp patches when patches are large.
   */
  readonly outputHidden?: number;
}

/**
 * The default two-time map: a MeanFlow model on rectified flow, about 2.3M
 * parameters, sized for the shapes world's tokenizer (`src/text.ts`).
 *
 * @example
 * ```ts
 * import { meanFlowConfig, validateConfig } from "./config.ts";
 * validateConfig({ ...meanFlowConfig, depth: 2 });
 * ```
 */
export const meanFlowConfig: ModelConfig = Object.freeze({
  kind: "two-time" as const,
  path: Object.freeze({ name: "rectified-flow" as const, sigmaD: 1 }),
  imageSize: 32,
  channels: 3,
  patchSize: 8,
  hiddenDim: 128,
  depth: 4,
  heads: 4,
  mlpRatio: 4,
  textLength: SHAPES_MAX_TOKENS,
  vocabSize: SHAPES_VOCABULARY.length,
  textDim: 64,
  frequencyDim: 128,
  outputHidden: 384,
});

/**
 * The default one-time map: an sCM model on TrigFlow with `sigma_d = 0.5`,
 * otherwise the same network as {@link meanFlowConfig}.
 *
 * @example
 * ```ts
 * import { scmConfig } from "./config.ts";
 * scmConfig.path; // { name: "trigflow", sigmaD: 0.5 }
 * ```
 */
export const scmConfig: ModelConfig = Object.freeze({
  ...meanFlowConfig,
  kind: "one-time" as const,
  path: Object.freeze({ name: "trigflow" as const, sigmaD: 0.5 }),
});

/** Sizes derived from a config that the forward pass needs. */
export interface ModelDims {
  /** Patches per image side. */
  readonly grid: number;
  /** Image tokens per image. */
  readonly imageTokens: number;
  /** Values per patch: `channels · patchSize²`. */
  readonly patchDim: number;
  /** Width of one attention head. */
  readonly headDim: number;
  /** Feed-forward hidden width. */
  readonly mlpDim: number;
}

/**
 * Checks a config and returns its derived sizes; throws a `RangeError` that
 * names the offending field otherwise.
 *
 * @example
 * ```ts
 * import { meanFlowConfig, validateConfig } from "./config.ts";
 * validateConfig(meanFlowConfig).imageTokens; // 64
 * ```
 */
export function validateConfig(config: ModelConfig): ModelDims {
  if (config.kind !== "two-time" && config.kind !== "one-time") {
    throw new RangeError(`config.kind must be "two-time" or "one-time", got ${config.kind}`);
  }
  for (
    const field of [
      "imageSize",
      "channels",
      "patchSize",
      "hiddenDim",
      "depth",
      "heads",
      "mlpRatio",
      "textLength",
      "vocabSize",
      "textDim",
      "frequencyDim",
    ] as const
  ) {
    const value = config[field];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`config.${field} must be a positive integer, got ${value}`);
    }
  }
  const outputHidden = config.outputHidden ?? 0;
  if (!Number.isSafeInteger(outputHidden) || outputHidden < 0) {
    throw new RangeError(`config.outputHidden must be a non-negative integer, got ${outputHidden}`);
  }
  if (config.imageSize % config.patchSize !== 0) {
    throw new RangeError(
      `config.imageSize ${config.imageSize} is not divisible by patchSize ${config.patchSize}`,
    );
  }
  if (config.hiddenDim % config.heads !== 0) {
    throw new RangeError(
      `config.hiddenDim ${config.hiddenDim} is not divisible by heads ${config.heads}`,
    );
  }
  if (config.frequencyDim % 2 !== 0) {
    throw new RangeError(`config.frequencyDim must be even, got ${config.frequencyDim}`);
  }
  pathOf(config);
  const grid = config.imageSize / config.patchSize;
  return {
    grid,
    imageTokens: grid * grid,
    patchDim: config.channels * config.patchSize * config.patchSize,
    headDim: config.hiddenDim / config.heads,
    mlpDim: config.hiddenDim * config.mlpRatio,
  };
}

/**
 * The shared path object (src/path.ts) a config names.
 *
 * @example
 * ```ts
 * import { pathOf, scmConfig } from "./config.ts";
 * pathOf(scmConfig).sigma(Math.PI / 2); // 0.5
 * ```
 */
export function pathOf(config: ModelConfig): ProbabilityPath {
  const { name, sigmaD } = config.path ?? {};
  if (name === "rectified-flow") {
    if (sigmaD !== 1) throw new RangeError(`rectified flow has sigmaD 1, got ${sigmaD}`);
    return rectifiedFlow;
  }
  if (name === "trigflow") return trigFlow(sigmaD);
  throw new RangeError(`config.path.name must be "rectified-flow" or "trigflow", got ${name}`);
}
