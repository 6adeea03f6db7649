/**
 * The network's parameters as data: module names (mirroring diffusers' FLUX
 * transformer, so adapter keys read like PEFT's), shapes, initialisation,
 * and the host-side parameter table every emitter reads.
 *
 * @module
 */

import { NormalStream } from "../../src/rng.ts";
import { type ModelConfig, validateConfig } from "./config.ts";

/** A float32 tensor on the host: row-major `data` of `shape`. */
export interface HostTensor {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Row-major values. */
  readonly data: Float32Array;
}

/** Parameters by name. Linear weights are PyTorch-style `[out, in]`. */
export type ParameterTable = ReadonlyMap<string, HostTensor>;

/** A linear layer `y = x·Wᵀ + b` with parameters `<module>.weight` and `<module>.bias`. */
export interface LinearModule {
  /** Module path, e.g. `transformer_blocks.0.attn.to_q`. */
  readonly module: string;
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** Starts at zero (adaLN-Zero modulation and the output projection, DiT §3.2). */
  readonly zeroInit: boolean;
}

/** One named parameter of the network. */
export interface ParameterSpec {
  /** Parameter name, e.g. `proj_out.weight`. */
  readonly name: string;
  /** Dimensions; linear weights are `[out, in]`. */
  readonly shape: readonly number[];
  /** The linear module it belongs to, if any. */
  readonly linear?: LinearModule;
}

/** Every linear module and every parameter of a config, in a fixed order. */
export interface ModelLayout {
  /** Linear modules (the LoRA-targetable layers). */
  readonly linears: readonly LinearModule[];
  /** All parameters: embeddings first, then each linear's weight and bias. */
  readonly parameters: readonly ParameterSpec[];
}

/**
 * Lists the modules and parameters of the network a config describes.
 *
 * @example
 * ```ts
 * import { meanFlowConfig } from "./config.ts";
 * import { modelLayout } from "./parameters.ts";
 * modelLayout(meanFlowConfig).linears.map((l) => l.module).includes("transformer_blocks.0.attn.to_q"); // true
 * ```
 */
export function modelLayout(config: ModelConfig): ModelLayout {
  const dims = validateConfig(config);
  const d = config.hiddenDim;
  const linears: LinearModule[] = [];
  const linear = (module: string, inFeatures: number, outFeatures: number, zeroInit = false) =>
    linears.push({ module, inFeatures, outFeatures, zeroInit });
  linear("x_embedder", dims.patchDim, d);
  linear("context_embedder", config.textDim, d);
  const embedders = config.kind === "two-time"
    ? ["timestep_embedder", "interval_embedder"]
    : ["timestep_embedder"];
  for (const embedder of embedders) {
    linear(`time_text_embed.${embedder}.linear_1`, config.frequencyDim, d);
    linear(`time_text_embed.${embedder}.linear_2`, d, d);
  }
  linear("time_text_embed.text_embedder.linear_1", config.textDim, d);
  linear("time_text_embed.text_embedder.linear_2", d, d);
  for (let i = 0; i < config.depth; i++) {
    // The last block is context pre-only (network.ts): text gives keys and values only.
    const contextPreOnly = i === config.depth - 1;
    const block = `transformer_blocks.${i}`;
    linear(`${block}.norm1.linear`, d, 6 * d, true);
    linear(`${block}.norm1_context.linear`, d, (contextPreOnly ? 2 : 6) * d, true);
    const projections = [
      "to_q",
      "to_k",
      "to_v",
      "to_out.0",
      "add_q_proj",
      "add_k_proj",
      "add_v_proj",
    ];
    if (!contextPreOnly) projections.push("to_add_out");
    for (const proj of projections) linear(`${block}.attn.${proj}`, d, d);
    for (const ff of contextPreOnly ? ["ff"] : ["ff", "ff_context"]) {
      linear(`${block}.${ff}.net.0.proj`, d, dims.mlpDim);
      linear(`${block}.${ff}.net.2`, dims.mlpDim, d);
    }
  }
  linear("norm_out.linear", d, 2 * d, true);
  const outputHidden = config.outputHidden ?? 0;
  if (outputHidden > 0) linear("proj_hidden", d, outputHidden);
  linear("proj_out", outputHidden > 0 ? outputHidden : d, dims.patchDim, true);
  const parameters: ParameterSpec[] = [
    { name: "pos_embed", shape: [dims.imageTokens, d] },
    { name: "token_embedding.weight", shape: [config.vocabSize, config.textDim] },
    { name: "context_pos_embed", shape: [config.textLength, config.textDim] },
  ];
  for (const l of linears) {
    parameters.push({
      name: `${l.module}.weight`,
      shape: [l.outFeatures, l.inFeatures],
      linear: l,
    });
    parameters.push({ name: `${l.module}.bias`, shape: [l.outFeatures], linear: l });
  }
  return { linears, parameters };
}

/**
 * Number of scalar parameters of a config.
 *
 * @example
 * ```ts
 * import { meanFlowConfig } from "./config.ts";
 * import { countParameters } from "./parameters.ts";
 * countParameters(meanFlowConfig) < 3_000_000; // true
 * ```
 */
export function countParameters(config: ModelConfig): number {
  return modelLayout(config).parameters.reduce((sum, p) => sum + size(p.shape), 0);
}

/**
 * Fresh training weights, reproducible from `seed`: Xavier-normal linear
 * weights, zero biases, N(0, 0.02²) embeddings, and zero adaLN modulation and
 * output projection (adaLN-Zero), so every block starts as the identity and
 * the network's raw output starts at 0. Parameter `i` draws from Philox
 * stream `i`, so adding a parameter never changes the others.
 *
 * @example
 * ```ts
 * import { meanFlowConfig } from "./config.ts";
 * import { initParameters } from "./parameters.ts";
 * const table = initParameters({ ...meanFlowConfig, depth: 1 }, 0);
 * table.get("proj_out.weight")?.shape; // [48, 128]
 * ```
 */
export function initParameters(config: ModelConfig, seed: number): ParameterTable {
  const table = new Map<string, HostTensor>();
  modelLayout(config).parameters.forEach((spec, index) => {
    const data = new Float32Array(size(spec.shape));
    const std = spec.linear === undefined
      ? 0.02
      : spec.name.endsWith(".bias") || spec.linear.zeroInit
      ? 0
      : Math.sqrt(2 / (spec.linear.inFeatures + spec.linear.outFeatures));
    if (std > 0) {
      new NormalStream(seed, index).fill(data);
      for (let i = 0; i < data.length; i++) data[i] *= std;
    }
    table.set(spec.name, { shape: spec.shape, data });
  });
  return table;
}

/**
 * Weights with no zero initialisation, reproducible from `seed`: every linear
 * weight N(0, 1/in), everything else N(0, 0.1²). Unlike {@link initParameters}
 * every block is active, so a random model's outputs depend on every layer —
 * what tests of training and parity need.
 *
 * @example
 * ```ts
 * import { meanFlowConfig } from "./config.ts";
 * import { randomParameters } from "./parameters.ts";
 * randomParameters({ ...meanFlowConfig, depth: 1 }, 3).get("proj_out.bias")?.data[0] !== 0; // true
 * ```
 */
export function randomParameters(config: ModelConfig, seed: number): ParameterTable {
  return new Map(
    modelLayout(config).parameters.map((spec, i) => {
      const data = new NormalStream(seed, i).fill(new Float32Array(size(spec.shape)));
      const isWeight = spec.linear !== undefined && spec.shape.length === 2;
      const std = isWeight ? 1 / Math.sqrt(spec.shape[1]) : 0.1;
      return [spec.name, { shape: spec.shape, data: data.map((v) => v * std) }];
    }),
  );
}

/**
 * Checks that a table holds exactly the parameters of `config` with the right
 * shapes and sizes; throws a `RangeError` naming the first mismatch.
 *
 * @example
 * ```ts
 * import { meanFlowConfig } from "./config.ts";
 * import { checkParameters, initParameters } from "./parameters.ts";
 * const config = { ...meanFlowConfig, depth: 1 };
 * checkParameters(config, initParameters(config, 1));
 * ```
 */
export function checkParameters(config: ModelConfig, table: ParameterTable): ModelLayout {
  const layout = modelLayout(config);
  for (const spec of layout.parameters) {
    const tensor = table.get(spec.name);
    if (tensor === undefined) throw new RangeError(`parameter ${spec.name} is missing`);
    if (tensor.shape.join() !== spec.shape.join()) {
      throw new RangeError(
        `parameter ${spec.name} has shape [${tensor.shape}], expected [${spec.shape}]`,
      );
    }
    if (tensor.data.length !== size(spec.shape)) {
      throw new RangeError(
        `parameter ${spec.name} holds ${tensor.data.length} values, expected ${size(spec.shape)}`,
      );
    }
  }
  if (table.size !== layout.parameters.length) {
    const known = new Set(layout.parameters.map((p) => p.name));
    const extra = [...table.keys()].filter((name) => !known.has(name));
    throw new RangeError(`unexpected parameters for this config: ${extra.join(", ")}`);
  }
  return layout;
}

/**
 * Number of elements of a shape.
 *
 * @example
 * ```ts
 * import { size } from "./parameters.ts";
 * size([2, 3, 4]); // 24
 * ```
 */
export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
