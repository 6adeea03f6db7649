/**
 * One update pass of the trainer, as `trainer/update.ts` runs it per
 * transition: the GRPO objective of `trainer/grpo.ts` (forward), its
 * gradient with respect to the LoRA weights (backward), and one AdamW step,
 * on a fixed synthetic micro-batch. `scripts/bench-update.ts` times it; the
 * optional PyTorch reference (`scripts/reference/update_torch.py`) reads the
 * same weights and batch from {@link UpdatePass.exportReference}.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { klStd } from "../../src/logprob.ts";
import { NormalStream, UniformStream } from "../../src/rng.ts";
import type { TrainConfig } from "../../trainer/config.ts";
import { grpoObjective, type TransitionBatch } from "../../trainer/grpo.ts";
import { LoraAdapter } from "../../trainer/model/lora.ts";
import { TfFlowMap } from "../../trainer/model/tfjs.ts";
import { AdamW } from "../../trainer/optimizer.ts";
import { FlowMapPolicy, rolloutGrid, tensorGaussianLogProb } from "../../trainer/policy.ts";
import type { BaseModel } from "../../trainer/setup.ts";
import { pathOf } from "../../trainer/model/config.ts";
import { twoTimeJump } from "../../src/anchor.ts";

/** The built pass: call {@link UpdatePass.run} repeatedly, then dispose. */
export interface UpdatePass {
  /** Trainable LoRA parameters. */
  readonly trainable: number;
  /** The batch's images `[B, C, H, W]` and prompt tokens, for the ONNX Runtime reference. */
  readonly inputs: { x: Float32Array; tokens: Int32Array; shape: number[]; t: number };
  /** Forward, backward and AdamW step; returns the loss. */
  run(): number;
  /** Forward only (the objective, no gradient); returns the loss. */
  forward(): number;
  /** Every tensor the PyTorch reference needs, named, with the run's constants. */
  exportReference(): { tensors: Map<string, HostArray>; constants: Record<string, unknown> };
  /** Frees the tensors. */
  dispose(): void;
}

/** A host array with its shape. */
export interface HostArray {
  /** Row-major values. */
  readonly data: Float32Array | Int32Array;
  /** Shape. */
  readonly shape: readonly number[];
}

/**
 * Builds the pass of `config` on `base` at `batch` samples, transition 0.
 * LoRA `B` starts at small random values (not PEFT's zeros) so that every
 * gradient is non-zero.
 */
export function buildUpdatePass(
  config: TrainConfig,
  base: BaseModel,
  batch: number,
): UpdatePass {
  const modelConfig = base.config;
  const model = new TfFlowMap(modelConfig, base.parameters, { trainable: false });
  const adapter = new LoraAdapter(modelConfig, config.lora);
  const normals = new NormalStream(7, 1);
  for (const b of adapter.b.values()) {
    b.assign(tf.tensor(normals.fill(new Float32Array(b.size)).map((v) => 0.01 * v), b.shape));
  }
  const policy = new FlowMapPolicy(
    model,
    config.rollout.anchor,
    rolloutGrid(base.info, config.rollout),
  );
  const optimizer = new AdamW(adapter.variables, config.optimizer);
  const { channels: c, imageSize: s, textLength, vocabSize } = modelConfig;
  const shape = [batch, c, s, s];
  const size = batch * c * s * s;
  const x = normals.fill(new Float32Array(size));
  const uniform = new UniformStream(7, 2);
  const tokens = Int32Array.from({ length: batch * textLength }, () => uniform.nextInt(vocabSize));
  const step = policy.step(0);
  const xT = tf.tensor4d(x, shape as [number, number, number, number]);
  const tokensT = tf.tensor2d(tokens, [batch, textLength], "int32");
  const [next, referenceMean, logProbOld] = tf.tidy(() => {
    const mean = policy.transitionMean(0, { x: xT, tokens: tokensT }, adapter);
    const noise = tf.tensor4d(normals.fill(new Float32Array(size)), mean.shape);
    const next = tf.add(mean, tf.mul(noise, step.std)) as tf.Tensor4D;
    // old log-probabilities near the current ones, so that some ratios clip
    const logProb = tensorGaussianLogProb(next, mean, step.std, config.objective.reduction);
    const jitter = tf.tensor1d(Float32Array.from({ length: batch }, () => uniform.next() - 0.5));
    const reference = policy.transitionMean(0, { x: xT, tokens: tokensT });
    return [next, reference, tf.add(logProb, tf.mul(jitter, 0.05)) as tf.Tensor1D];
  });
  const transition: TransitionBatch = {
    step: 0,
    x: xT,
    next,
    tokens: tokensT,
    logProbOld,
    advantages: tf.tensor1d(normals.fill(new Float32Array(batch))),
    referenceMean,
  };
  const objective = () => grpoObjective(policy, adapter, transition, config.objective).loss;
  const variables = adapter.variables;
  return {
    trainable: variables.reduce((n, v) => n + v.size, 0),
    inputs: { x, tokens, shape, t: policy.grid[0] },
    run() {
      const { value, grads } = tf.variableGrads(objective, variables);
      optimizer.accumulate(grads, 1);
      optimizer.step();
      const loss = value.dataSync()[0];
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    },
    forward() {
      const value = tf.tidy(objective);
      const loss = value.dataSync()[0];
      value.dispose();
      return loss;
    },
    exportReference() {
      const tensors = new Map<string, HostArray>();
      for (const [name, v] of model.variables) {
        tensors.set(name, { data: v.dataSync() as Float32Array, shape: v.shape });
      }
      for (const [module, v] of adapter.a) {
        tensors.set(`${module}.lora_A.weight`, {
          data: v.dataSync() as Float32Array,
          shape: v.shape,
        });
      }
      for (const [module, v] of adapter.b) {
        tensors.set(`${module}.lora_B.weight`, {
          data: v.dataSync() as Float32Array,
          shape: v.shape,
        });
      }
      const host = (name: string, t: tf.Tensor) =>
        tensors.set(name, { data: t.dataSync() as Float32Array, shape: t.shape });
      host("batch.x", transition.x);
      host("batch.next", transition.next);
      host("batch.logProbOld", transition.logProbOld);
      host("batch.advantages", transition.advantages);
      host("batch.referenceMean", transition.referenceMean!);
      tensors.set("batch.tokens", { data: tokens, shape: [batch, textLength] });
      const gaussian = policy.step(0);
      return {
        tensors,
        constants: {
          model: modelConfig,
          lora: { rank: adapter.rank, alpha: adapter.alpha, modules: [...adapter.a.keys()] },
          t: policy.grid[0],
          timeScale: 1000 / pathOf(modelConfig).tMax,
          jump: twoTimeJump(policy.grid[0], 0),
          meanCoefficients: gaussian.mean,
          std: gaussian.std,
          klStd: klStd(gaussian, config.objective.klScale),
          objective: config.objective,
          optimizer: config.optimizer,
        },
      };
    },
    dispose() {
      tf.dispose([xT, tokensT, next, logProbOld, transition.advantages, transition.referenceMean!]);
      adapter.dispose();
      model.dispose();
    },
  };
}
