/**
 * One worker's copy of the trained policy: the frozen base in TF.js, the
 * LoRA adapter, the rollout policy and, for ONNX Runtime rollouts, the base's
 * session. The trainer's thread holds one and every extra worker thread
 * (`replica_worker.ts`) another, built from the same config and base model,
 * so any of them rolls out a slice of an iteration's trajectories or takes
 * the gradients of the units of an optimiser step it draws (docs/math.md §6).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { TrainConfig } from "./config.ts";
import { drawGradients, type StepWork, type UnitGradient, type UpdateData } from "./gradients.ts";
import { LoraAdapter } from "./model/lora.ts";
import { TfFlowMap } from "./model/tfjs.ts";
import { FlowMapPolicy, rolloutGrid } from "./policy.ts";
import {
  type Rollout,
  rollout,
  type RolloutMaps,
  type RolloutOptions,
  tfjsRolloutMaps,
} from "./rollout.ts";
import { OnnxRollouts } from "./rollout_onnx.ts";
import type { BaseModel } from "./setup.ts";

/** The trained policy of a run, in this thread. */
export class PolicyReplica {
  /** The frozen base network. */
  readonly model: TfFlowMap;
  /** The trained adapter. */
  readonly adapter: LoraAdapter;
  /** The base as a stochastic policy on the run's rollout grid. */
  readonly policy: FlowMapPolicy;
  readonly #config: TrainConfig;
  readonly #base: BaseModel;
  readonly #rolloutThreads?: number;
  #onnx?: Promise<OnnxRollouts>;

  /**
   * Builds the policy a run trains, its adapter at its initial weights.
   *
   * @param rolloutThreads intra-op threads of the ONNX Runtime rollout
   *   sessions (default: ONNX Runtime's)
   */
  constructor(config: TrainConfig, base: BaseModel, rolloutThreads?: number) {
    this.#config = config;
    this.#base = base;
    this.#rolloutThreads = rolloutThreads;
    this.model = new TfFlowMap(base.config, base.parameters, { trainable: false });
    this.adapter = new LoraAdapter(base.config, config.lora);
    const grid = rolloutGrid(base.info, config.rollout);
    this.policy = new FlowMapPolicy(this.model, config.rollout.anchor, grid);
  }

  /** A copy of the adapter's weights, in {@linkcode LoraAdapter.variables} order. */
  weights(): Float32Array[] {
    return this.adapter.variables.map((v) => (v.dataSync() as Float32Array).slice());
  }

  /** Sets the adapter's weights (in {@linkcode LoraAdapter.variables} order). */
  load(weights: readonly Float32Array[]): void {
    tf.tidy(() =>
      this.adapter.variables.forEach((v, i) => v.assign(tf.tensor(weights[i], v.shape)))
    );
  }

  /**
   * Rolls out `options` with the adapter's current weights, on the engine the
   * config names (ONNX Runtime with the adapter merged, or TF.js).
   */
  async rollout(options: RolloutOptions): Promise<Rollout> {
    const { maps, dispose } = await this.#rolloutMaps();
    try {
      return await rollout(this.policy, maps, options);
    } finally {
      await dispose();
    }
  }

  /** {@linkcode drawGradients} of `work` at the adapter's current weights. */
  gradients(data: UpdateData, work: StepWork): UnitGradient[] {
    const model = { policy: this.policy, adapter: this.adapter, objective: this.#config.objective };
    return drawGradients(model, data, work);
  }

  /** Frees the model, the adapter and the ONNX Runtime session. */
  async dispose(): Promise<void> {
    this.adapter.dispose();
    this.model.dispose();
    if (this.#onnx) await (await this.#onnx).dispose();
  }

  /** The current policy's rollout maps; `dispose` when the rollout is done. */
  async #rolloutMaps(): Promise<{ maps: RolloutMaps; dispose: () => Promise<void> }> {
    if (this.#config.rollout.engine === "tfjs") {
      return { maps: tfjsRolloutMaps(this.policy, this.adapter), dispose: async () => {} };
    }
    this.#onnx ??= OnnxRollouts.open(this.#base.served, this.#rolloutThreads);
    return (await this.#onnx).withAdapter(this.policy, this.adapter.safetensors());
  }
}
