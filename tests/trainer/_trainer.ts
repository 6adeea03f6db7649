/**
 * Fixtures for the trainer suites: a tiny random two-time or one-time model
 * (16×16 images, one block) and a tiny run configuration around it.
 *
 * @module
 */

import { selectBackend } from "../../trainer/backend.ts";
import { type TrainConfig, validateTrainConfig } from "../../trainer/config.ts";
import { TfFlowMap } from "../../trainer/model/tfjs.ts";
import { type BaseModel, loadBaseModel } from "../../trainer/setup.ts";

/** Architecture overrides of the tiny test models. */
export const TINY = {
  depth: 1,
  hiddenDim: 32,
  heads: 2,
  textDim: 16,
  frequencyDim: 16,
  imageSize: 16,
  patchSize: 4,
};

/** A tiny random base model of either kind. */
export async function tinyModel(kind: "meanflow" | "scm", seed = 1): Promise<TfFlowMap> {
  const base = await tinyBase(kind, seed);
  return new TfFlowMap(base.config, base.parameters, { trainable: false });
}

/** The tiny random base with its ONNX bytes for the SDK. */
export function tinyBase(kind: "meanflow" | "scm", seed = 1): Promise<BaseModel> {
  return loadBaseModel({ random: kind, seed, overrides: TINY });
}

/** A tiny run config; `patch` overrides sections shallowly. */
export function tinyConfig(patch: Record<string, unknown> = {}): TrainConfig {
  return validateTrainConfig({
    name: "tiny",
    model: { random: "meanflow", seed: 1, overrides: TINY },
    lora: { rank: 4, alpha: 4, targets: ["to_q", "to_v", "to_out.0", "proj_out"] },
    rollout: {
      prompts: 2,
      groupSize: 4,
      stochasticSteps: 2,
      anchor: { kind: "local", delta: 0.05 },
      microBatch: 4,
    },
    reward: [{ kind: "brightness" }],
    objective: { clipRange: 0.2, klBeta: 0.01, reduction: "sum" },
    optimizer: { lr: 0.01 },
    train: { iterations: 3, checkpointEvery: 1 },
    eval: { every: 0, steps: [1, 2], prompts: 2, seedsPerPrompt: 2 },
    ...patch,
  });
}

/**
 * Activates the fastest available backend (OpenBLAS kernels when present), as
 * the CLI does; `blasThreads` as the CLI sets it for more than one worker.
 */
export async function fastBackend(options: { blasThreads?: number } = {}): Promise<void> {
  await selectBackend("auto", () => {}, options);
}
