/**
 * Rollouts in ONNX Runtime: the policy's network is the base model with the
 * current adapter merged (docs/math.md §7), opened as a new session every iteration,
 * and the reference is the base session. The transition means are the SDK
 * sampler's own ({@linkcode flowMapStep}), with the coefficients of
 * `src/anchor.ts` that {@linkcode FlowMapPolicy.transitionMean} applies in TF.js; the two agree to
 * float32 rounding (tested), so the log-probabilities the objective
 * recomputes in TF.js differ from these by far less than the clip range.
 *
 * @module
 */

import { endpointOf, type FlowMap } from "../src/flowmap.ts";
import { loadModel, type Model } from "../src/onnx/model.ts";
import type { ModelSource } from "../src/onnx/source.ts";
import { flowMapStep } from "../src/transition.ts";
import type { FlowMapPolicy } from "./policy.ts";
import type { RolloutMaps } from "./rollout.ts";

/** The base model in ONNX Runtime, opening one merged session per adapter. */
export class OnnxRollouts {
  readonly #base: Model;

  private constructor(base: Model) {
    this.#base = base;
  }

  /**
   * Loads the base model (`threads` intra-op threads per session; default:
   * ONNX Runtime's own).
   *
   * @example
   * ```ts ignore
   * const rollouts = await OnnxRollouts.open("src/models/shapes-meanflow/model.onnx", 1);
   * const { maps, dispose } = await rollouts.withAdapter(policy, adapterBytes);
   * ```
   */
  static async open(source: ModelSource, threads?: number): Promise<OnnxRollouts> {
    return new OnnxRollouts(await loadModel(source, { threads }));
  }

  /**
   * The rollout maps of `policy` with the adapter in `safetensors` merged;
   * call `dispose` when the rollout is done.
   */
  async withAdapter(
    policy: FlowMapPolicy,
    safetensors: Uint8Array,
  ): Promise<{ maps: RolloutMaps; dispose: () => Promise<void> }> {
    const trained = await this.#base.withAdapters([{ source: safetensors, scale: 1 }]);
    return {
      maps: onnxRolloutMaps(policy, trained.flowMap, this.#base.flowMap),
      dispose: () => trained.dispose(),
    };
  }

  /** Releases the base session. */
  dispose(): Promise<void> {
    return this.#base.dispose();
  }
}

/**
 * Rollout maps over two SDK flow maps: `trained` for the policy, `base` for
 * the reference.
 *
 * @example
 * ```ts ignore
 * const maps = onnxRolloutMaps(policy, trainedModel.flowMap, baseModel.flowMap);
 * ```
 */
export function onnxRolloutMaps(
  policy: FlowMapPolicy,
  trained: FlowMap<Int32Array>,
  base: FlowMap<Int32Array>,
): RolloutMaps {
  const { channels, imageSize, textLength } = policy.model.config;
  const tensor = (data: Float32Array, tokens: Int32Array) => ({
    data,
    shape: [tokens.length / textLength, channels, imageSize, imageSize],
  });
  return {
    async mean(k, x, tokens, reference = false) {
      const map = reference ? base : trained;
      const t = policy.grid[k], s = policy.grid[k + 1];
      return (await flowMapStep(map, policy.anchor, tensor(x, tokens), t, s, tokens)).mean;
    },
    endpoint: (x, t, tokens) => endpointOf(trained, tensor(x, tokens), t, tokens),
  };
}
