/**
 * {@link GraphOps} that record ONNX (opset 17) nodes: running the network's
 * forward pass over value names builds its graph.
 *
 * @module
 */

import onnxProto from "onnx-proto";
import {
  composedAttention,
  composedGatedResidual,
  composedModulatedLayerNorm,
  composedSplit,
  geluTanh,
  type GraphOps,
} from "./ops.ts";

const { onnx } = onnxProto;

/** The ONNX opset the emitted graphs use (LayerNormalization needs 17). */
export const ONNX_OPSET = 17;

type Attribute = onnxProto.onnx.IAttributeProto;

/**
 * Records the nodes of a graph and the small constants they need (stored
 * inline in the model). Parameters are referenced by their names: the
 * caller declares them as initializers; linear weights must be stored
 * transposed, `[in, out]`, since a linear layer becomes `MatMul(x, Wᵀ) + b`.
 *
 * @example
 * ```ts
 * import { OnnxGraphBuilder } from "./onnx_graph.ts";
 * const graph = new OnnxGraphBuilder();
 * const y = graph.linear("proj_out", "x"); // MatMul + Add
 * graph.nodes.length; // 2
 * ```
 */
export class OnnxGraphBuilder implements GraphOps<string> {
  /** Nodes in topological order. */
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  /** Inline constant initializers. */
  readonly constants: onnxProto.onnx.ITensorProto[] = [];
  readonly #cache = new Map<string, string>();
  #count = 0;

  /** `MatMul(x, <module>.weight) + <module>.bias`; the weight initializer holds `Wᵀ`. */
  linear(module: string, x: string): string {
    const product = this.#node("MatMul", [x, `${module}.weight`], [], `${module}.MatMul`);
    return this.#node("Add", [product, `${module}.bias`], [], `${module}.Add`);
  }

  /** `Gather(table, ids)` along axis 0. */
  embed(name: string, ids: string): string {
    return this.#node("Gather", [name, ids], [int("axis", 0)]);
  }

  /** The initializer of that name. */
  parameter(name: string): string {
    return name;
  }

  /** An inline float32 initializer. */
  constant(values: Float32Array, shape: readonly number[]): string {
    return this.#constant(onnx.TensorProto.DataType.FLOAT, float32Bytes(values), shape);
  }

  /** `Add`. */
  add(a: string, b: string): string {
    return this.#node("Add", [a, b]);
  }

  /** `Sub`. */
  sub(a: string, b: string): string {
    return this.#node("Sub", [a, b]);
  }

  /** `Mul`. */
  mul(a: string, b: string): string {
    return this.#node("Mul", [a, b]);
  }

  /** `Mul` by a scalar constant. */
  scale(x: string, factor: number): string {
    return this.mul(x, this.constant(Float32Array.of(factor), []));
  }

  /** `Add` of a scalar constant. */
  offset(x: string, value: number): string {
    return this.add(x, this.constant(Float32Array.of(value), []));
  }

  /** `Max` with a scalar constant. */
  atLeast(x: string, value: number): string {
    return this.#node("Max", [x, this.constant(Float32Array.of(value), [])]);
  }

  /** `Reciprocal`. */
  reciprocal(x: string): string {
    return this.#node("Reciprocal", [x]);
  }

  /** `Tanh`. */
  tanh(x: string): string {
    return this.#node("Tanh", [x]);
  }

  /** GELU (tanh form) decomposed into opset-17 nodes (`Gelu` needs opset 20). */
  gelu(x: string): string {
    return geluTanh(this, x);
  }

  /** `Sigmoid`. */
  sigmoid(x: string): string {
    return this.#node("Sigmoid", [x]);
  }

  /** `Cos`. */
  cos(x: string): string {
    return this.#node("Cos", [x]);
  }

  /** `Sin`. */
  sin(x: string): string {
    return this.#node("Sin", [x]);
  }

  /** `Softmax` over the last axis. */
  softmax(x: string): string {
    return this.#node("Softmax", [x], [int("axis", -1)]);
  }

  /** `LayerNormalization` over the last axis with unit scale and no bias. */
  layerNorm(x: string, width: number, epsilon: number): string {
    const ones = this.constant(new Float32Array(width).fill(1), [width]);
    return this.#node("LayerNormalization", [x, ones], [
      int("axis", -1),
      { name: "epsilon", type: onnx.AttributeProto.AttributeType.FLOAT, f: epsilon },
    ]);
  }

  /** Adaptive LayerNorm as `LayerNormalization`, `Mul` and `Add` nodes. */
  modulatedLayerNorm(
    x: string,
    shift: string,
    scale: string,
    width: number,
    epsilon: number,
  ): string {
    return composedModulatedLayerNorm(this, x, shift, scale, width, epsilon);
  }

  /** Equal parts of an axis as `Slice` nodes. */
  split(x: string, axis: number, pieces: number, width: number): string[] {
    return composedSplit(this, x, axis, pieces, width);
  }

  /** The gated residual as `Reshape`, `Mul` and `Add` nodes. */
  gatedResidual(x: string, gate: string, h: string, width: number): string {
    return composedGatedResidual(this, x, gate, h, width);
  }

  /** Multi-head attention as `Transpose`, `MatMul` and `Softmax` nodes. */
  attention(q: string, k: string, v: string, seq: number, heads: number, width: number): string {
    return composedAttention(this, q, k, v, seq, heads, width);
  }

  /** `ReduceMean` over one axis, dropping it (axes as an attribute: opset 17). */
  mean(x: string, axis: number): string {
    return this.#node("ReduceMean", [x], [ints("axes", [axis]), int("keepdims", 0)]);
  }

  /** `Reshape` to a constant shape. */
  reshape(x: string, shape: readonly number[]): string {
    return this.#node("Reshape", [x, this.#int64s(shape)]);
  }

  /** `Transpose`. */
  transpose(x: string, perm: readonly number[]): string {
    return this.#node("Transpose", [x], [ints("perm", perm)]);
  }

  /** `MatMul` of rank-3 tensors. */
  matMul(a: string, b: string): string {
    return this.#node("MatMul", [a, b]);
  }

  /** `Concat`. */
  concat(xs: readonly string[], axis: number): string {
    return this.#node("Concat", xs, [int("axis", axis)]);
  }

  /** `Slice` of one axis with constant bounds. */
  slice(x: string, axis: number, start: number, end: number): string {
    return this.#node("Slice", [
      x,
      this.#int64s([start]),
      this.#int64s([end]),
      this.#int64s([axis]),
    ]);
  }

  /** Appends `Identity(value) → name`, giving a graph output its public name. */
  rename(value: string, name: string): void {
    this.nodes.push({
      opType: "Identity",
      input: [value],
      output: [name],
      name: `${name}.Identity`,
    });
  }

  #node(
    opType: string,
    input: readonly string[],
    attribute: Attribute[] = [],
    name?: string,
  ): string {
    const output = `${name ?? opType}_${this.#count++}`;
    this.nodes.push({ opType, input: [...input], output: [output], name: output, attribute });
    return output;
  }

  #int64s(values: readonly number[]): string {
    const bytes = new Uint8Array(values.length * 8);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setBigInt64(8 * i, BigInt(v), true));
    return this.#constant(onnx.TensorProto.DataType.INT64, bytes, [values.length]);
  }

  /** Inline initializers, deduplicated by content. */
  #constant(dataType: number, rawData: Uint8Array, shape: readonly number[]): string {
    const key = `${dataType}|${shape}|${rawData.join()}`;
    const known = this.#cache.get(key);
    if (known !== undefined) return known;
    const name = `const_${this.#cache.size}`;
    this.constants.push({ name, dataType, dims: [...shape], rawData });
    this.#cache.set(key, name);
    return name;
  }
}

/**
 * Little-endian bytes of float32 values (the ONNX raw and external layout).
 *
 * @example
 * ```ts
 * import { float32Bytes } from "./onnx_graph.ts";
 * float32Bytes(Float32Array.of(1)); // Uint8Array [0, 0, 128, 63]
 * ```
 */
export function float32Bytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return bytes;
}

function int(name: string, i: number): Attribute {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

function ints(name: string, values: readonly number[]): Attribute {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...values] };
}
