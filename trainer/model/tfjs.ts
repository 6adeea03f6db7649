/**
 * The TF.js emitter: the network of network.ts over `tf.Tensor`s, with the
 * parameters held as `tf.Variable`s (training and rollouts).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
// tfjs-core 4 registers no gradient functions itself; the union package's
// bundle registers them all (into tfjs-core's global registry), so tf.grad works.
import "@tensorflow/tfjs";
import type { ModelConfig } from "./config.ts";
import { flowMapNetwork } from "./network.ts";
import {
  composedAttention,
  composedGatedResidual,
  composedModulatedLayerNorm,
  type GraphOps,
} from "./ops.ts";
import { gelu, layerNorm } from "../../kernels/tfjs-fused.ts";
import { fusedGatedResidual, fusedModulatedLayerNorm } from "../../kernels/tfjs-adaln.ts";
import { fusedAttention } from "../../kernels/tfjs-attention.ts";
import { linear, type LowRankFactors } from "../../kernels/tfjs-linear.ts";
import { checkParameters, type HostTensor, type ParameterTable } from "./parameters.ts";

/** Network inputs as tensors; see {@link FlowMapInputs}. */
export interface TfFlowMapInputs {
  /** Images `[B, C, H, W]`. */
  readonly x: tf.Tensor4D;
  /** Times `[B]`. */
  readonly t: tf.Tensor1D;
  /** Target times `[B]` (two-time maps only). */
  readonly r?: tf.Tensor1D;
  /** Prompt token ids `[B, textLength]`, int32. */
  readonly tokens: tf.Tensor2D;
}

/** Something that adds a low-rank update to some linear layers (see lora.ts). */
export interface LinearAdapter {
  /** The factors of `module`'s update `scaling · B·A`, if it is adapted. */
  factors(module: string): LowRankFactors | undefined;
}

/**
 * The network as TF.js variables. Gradients flow to every trainable variable;
 * pass `{ trainable: false }` to freeze the base (LoRA training).
 *
 * @example Evaluate a freshly initialised two-time map
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { meanFlowConfig } from "./config.ts";
 * import { initParameters } from "./parameters.ts";
 * import { TfFlowMap } from "./tfjs.ts";
 *
 * const config = { ...meanFlowConfig, depth: 1 };
 * const model = new TfFlowMap(config, initParameters(config, 0));
 * const u = model.forward({
 *   x: tf.randomNormal([2, 3, 32, 32]),
 *   t: tf.tensor1d([0.9, 0.5]),
 *   r: tf.tensor1d([0.5, 0]),
 *   tokens: tf.zeros([2, config.textLength], "int32"),
 * }); // [2, 3, 32, 32]
 * model.dispose();
 * ```
 */
export class TfFlowMap {
  /** The architecture. */
  readonly config: ModelConfig;
  /** Parameters by name (linear weights `[out, in]`). */
  readonly variables: ReadonlyMap<string, tf.Variable>;

  /**
   * Uploads a parameter table (checked against the config) into variables.
   *
   * @param options.trainable whether the base weights receive gradients (default true)
   */
  constructor(
    config: ModelConfig,
    parameters: ParameterTable,
    options: { trainable?: boolean } = {},
  ) {
    const layout = checkParameters(config, parameters);
    this.config = config;
    this.variables = new Map(layout.parameters.map((spec) => {
      const { data, shape } = parameters.get(spec.name) as HostTensor;
      const initial = tf.tensor(data, [...shape], "float32");
      const variable = tf.variable(initial, options.trainable ?? true);
      initial.dispose();
      return [spec.name, variable];
    }));
  }

  /**
   * The forward pass: `u(x, r, t)` (two-time) or `f(x, t)` (one-time), `[B, C, H, W]`.
   * With an adapter, adapted layers compute `W x + b + delta(x)`.
   */
  forward(inputs: TfFlowMapInputs, adapter?: LinearAdapter): tf.Tensor4D {
    checkInputs(this.config, inputs);
    return tf.tidy(() =>
      flowMapNetwork(tfOps(this.variables, adapter), this.config, inputs) as tf.Tensor4D
    );
  }

  /** A host copy of the current weights, e.g. for the ONNX emitter. */
  parameters(): ParameterTable {
    return new Map(
      [...this.variables].map((
        [name, v],
      ) => [name, { shape: v.shape, data: v.dataSync().slice() as Float32Array }]),
    );
  }

  /** Frees the variables. */
  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
  }
}

/**
 * {@link GraphOps} over TF.js tensors, reading parameters from `variables`.
 * Linear layers (with their LoRA update) run as rank-2 products through
 * `kernels/tfjs-linear.ts`; GELU, LayerNorm, adaptive LayerNorm and attention
 * use the fused kernels of `kernels/` when they are installed, and their
 * composite forms otherwise.
 *
 * @example
 * ```ts
 * import { tfOps } from "./tfjs.ts";
 * const ops = tfOps(new Map());
 * ```
 */
export function tfOps(
  variables: ReadonlyMap<string, tf.Tensor>,
  adapter?: LinearAdapter,
): GraphOps<tf.Tensor> {
  const param = (name: string) => {
    const value = variables.get(name);
    if (value === undefined) throw new RangeError(`unknown parameter ${name}`);
    return value;
  };
  const ops: GraphOps<tf.Tensor> = {
    linear(module, x) {
      const weight = param(`${module}.weight`) as tf.Tensor2D;
      const bias = param(`${module}.bias`) as tf.Tensor1D;
      return linear(x, weight, bias, adapter?.factors(module));
    },
    embed: (name, ids) => tf.gather(param(name), ids),
    parameter: param,
    constant: (values, shape) => tf.tensor(values, [...shape], "float32"),
    add: (a, b) => tf.add(a, b),
    sub: (a, b) => tf.sub(a, b),
    mul: (a, b) => tf.mul(a, b),
    scale: (x, factor) => tf.mul(x, tf.scalar(factor)),
    offset: (x, value) => tf.add(x, tf.scalar(value)),
    atLeast: (x, value) => tf.maximum(x, tf.scalar(value)),
    reciprocal: (x) => tf.reciprocal(x),
    tanh: (x) => tf.tanh(x),
    gelu: (x) => gelu(x),
    sigmoid: (x) => tf.sigmoid(x),
    cos: (x) => tf.cos(x),
    sin: (x) => tf.sin(x),
    softmax: (x) => tf.softmax(x),
    layerNorm: (x, width, epsilon) => layerNorm(x, tf.ones([width]), tf.zeros([width]), epsilon),
    modulatedLayerNorm: (x, shift, scale, width, epsilon) =>
      fusedModulatedLayerNorm(x, shift, scale, epsilon) ??
        composedModulatedLayerNorm(ops, x, shift, scale, width, epsilon),
    gatedResidual: (x, gate, h, width) =>
      fusedGatedResidual(x, gate, h) ?? composedGatedResidual(ops, x, gate, h, width),
    attention: (q, k, v, seq, heads, width) =>
      fusedAttention(q, k, v, heads) ?? composedAttention(ops, q, k, v, seq, heads, width),
    mean: (x, axis) => tf.mean(x, axis),
    reshape: (x, shape) => tf.reshape(x, [...shape]),
    transpose: (x, perm) => tf.transpose(x, [...perm]),
    matMul: (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
    concat: (xs, axis) => tf.concat([...xs], axis),
    split: (x, axis, pieces) => tf.split(x, pieces, axis),
    slice(x, axis, start, end) {
      const begin = x.shape.map((_, i) => (i === axis ? start : 0));
      const extent = x.shape.map((s, i) => (i === axis ? end - start : s));
      return tf.slice(x, begin, extent);
    },
  };
  return ops;
}

function checkInputs(config: ModelConfig, inputs: TfFlowMapInputs): void {
  const batch = inputs.x.shape[0];
  const expected = [batch, config.channels, config.imageSize, config.imageSize];
  const fail = (what: string, got: readonly number[], want: readonly number[]) => {
    throw new RangeError(`input ${what} has shape [${got}], expected [${want}]`);
  };
  if (inputs.x.shape.join() !== expected.join()) fail("x", inputs.x.shape, expected);
  if (inputs.t.shape.join() !== `${batch}`) fail("t", inputs.t.shape, [batch]);
  if (inputs.r !== undefined && inputs.r.shape.join() !== `${batch}`) {
    fail("r", inputs.r.shape, [batch]);
  }
  const tokens = [batch, config.textLength];
  if (inputs.tokens.shape.join() !== tokens.join()) fail("tokens", inputs.tokens.shape, tokens);
  if (inputs.tokens.dtype !== "int32") {
    throw new RangeError(`input tokens must be int32, got ${inputs.tokens.dtype}`);
  }
}
