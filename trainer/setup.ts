/**
 * Turns a validated {@link TrainConfig} into the objects a run needs: the base
 * model's weights (a bundled ONNX model read into TF.js, or random weights for
 * tests) and the reward.
 *
 * @module
 */

import { dirname, join } from "node:path";
import onnxProto from "onnx-proto";
import { createReward } from "./rewards/registry.ts";
import { type Reward, weightedSum } from "./rewards/reward.ts";
import { ConfigError, type ModelSourceConfig, type RewardTermConfig } from "./config.ts";
import {
  meanFlowConfig,
  type ModelConfig,
  pathOf,
  scmConfig,
  validateConfig,
} from "./model/config.ts";
import { emitOnnx } from "./model/onnx.ts";
import { readOnnxModel } from "./model/onnx_read.ts";
import { timeGrid } from "../src/grid.ts";
import { type ModelInfo, readModelInfo } from "../src/onnx/model_info.ts";
import type { ModelSource } from "../src/onnx/source.ts";
import { shapesTokenizer } from "../src/text.ts";
import { type ParameterTable, randomParameters } from "./model/parameters.ts";

/** A base model: architecture and weights, and the same model for the SDK. */
export interface BaseModel {
  /** Architecture. */
  readonly config: ModelConfig;
  /** Weights. */
  readonly parameters: ParameterTable;
  /** What `loadModel` serves: the ONNX path, or the emitted bytes of random weights. */
  readonly served: ModelSource;
  /** Where it came from, for logs. */
  readonly description: string;
  /** What the served model's metadata says: its path, grid shift and default grid among it. */
  readonly info: ModelInfo;
}

/**
 * Loads the base model a config names into a parameter table for TF.js. An
 * ONNX model's weights are read from the external data file its initializers
 * reference (`model.bin` next to it); random weights are also emitted as ONNX
 * so that evaluation serves them through the SDK like a bundled model.
 *
 * @example
 * ```ts
 * import { loadBaseModel } from "./setup.ts";
 * const base = await loadBaseModel({ random: "meanflow", seed: 0, overrides: { depth: 1 } });
 * base.config.depth; // 1
 * ```
 */
export async function loadBaseModel(source: ModelSourceConfig): Promise<BaseModel> {
  if ("random" in source) {
    const config = {
      ...(source.random === "meanflow" ? meanFlowConfig : scmConfig),
      ...source.overrides,
    };
    try {
      validateConfig(config);
    } catch (error) {
      throw new ConfigError(`model.overrides: ${(error as Error).message}`);
    }
    const parameters = randomParameters(config, source.seed);
    const files = emitOnnx(config, parameters, {
      name: "model",
      tokenizer: shapesTokenizer,
      defaultGrid: timeGrid(pathOf(config), { steps: 1 }),
    });
    return {
      info: readModelInfo(files.model),
      config,
      parameters,
      served: { model: files.model, weights: files.externalData },
      description: `random ${source.random} weights (seed ${source.seed})`,
    };
  }
  const path = source.onnx;
  let model: Uint8Array;
  try {
    model = await Deno.readFile(path);
  } catch (cause) {
    throw new ConfigError(`model.onnx: cannot read ${path}: ${(cause as Error).message}`);
  }
  const weightsPath = join(dirname(path), externalDataName(model) ?? "model.bin");
  let weights: Uint8Array;
  try {
    weights = await Deno.readFile(weightsPath);
  } catch (cause) {
    throw new ConfigError(
      `model.onnx: cannot read its weights ${weightsPath}: ${(cause as Error).message}`,
    );
  }
  const { config, parameters } = readOnnxModel(model, weights);
  return { config, parameters, served: path, description: path, info: readModelInfo(model) };
}

/** The `location` the model's first initializer gives for its external data. */
function externalDataName(model: Uint8Array): string | undefined {
  const graph = onnxProto.onnx.ModelProto.decode(model).graph;
  return graph?.initializer?.[0]?.externalData?.find((e) => e.key === "location")?.value ??
    undefined;
}

/**
 * The reward a config's terms describe (each built by its kind's entry in
 * `REWARDS`): the single term itself when its weight is 1, else their
 * weighted sum.
 *
 * @example
 * ```ts
 * import { buildReward } from "./setup.ts";
 * buildReward([{ kind: "composition", mode: "partial", weight: 1 }]).name; // "composition:partial"
 * ```
 */
export function buildReward(terms: readonly RewardTermConfig[]): Reward {
  if (terms.length === 1 && terms[0].weight === 1) return createReward(terms[0]);
  return weightedSum(terms.map((term) => ({ reward: createReward(term), weight: term.weight })));
}
