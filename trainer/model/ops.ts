/**
 * The small operator vocabulary the network is written in. The forward pass
 * (network.ts) is generic over it, so one definition yields a TF.js model
 * (tensors), an ONNX graph (node names) and a cost count (shapes).
 *
 * Shape conventions: `-1` may appear once in a `reshape` target, and the
 * network only uses it for the leading (batch-like) axis.
 *
 * @module
 */

/**
 * Operators over values of type `T`. Every implementation must give these
 * the same semantics as ONNX opset 17 (the most literal of the three).
 */
export interface GraphOps<T> {
  /** `y = x·Wᵀ + b` over the last axis of `x`, with `W: [out, in]` of `module`. */
  linear(module: string, x: T): T;
  /** Rows of the embedding table `name` (`[rows, width]`) at int32 `ids`. */
  embed(name: string, ids: T): T;
  /** A learned parameter used as a tensor (positional embeddings). */
  parameter(name: string): T;
  /** A fixed float32 tensor. */
  constant(values: Float32Array, shape: readonly number[]): T;
  /** Element-wise `a + b` with broadcasting. */
  add(a: T, b: T): T;
  /** Element-wise `a − b` with broadcasting. */
  sub(a: T, b: T): T;
  /** Element-wise `a · b` with broadcasting. */
  mul(a: T, b: T): T;
  /** `x · factor` for a scalar factor. */
  scale(x: T, factor: number): T;
  /** `x + value` for a scalar value. */
  offset(x: T, value: number): T;
  /** Element-wise `max(x, value)` for a scalar value. */
  atLeast(x: T, value: number): T;
  /** Element-wise `1 / x`. */
  reciprocal(x: T): T;
  /** Element-wise hyperbolic tangent. */
  tanh(x: T): T;
  /** GELU, tanh approximation (FLUX's `gelu-approximate`); see {@link geluTanh}. */
  gelu(x: T): T;
  /** Element-wise logistic sigmoid. */
  sigmoid(x: T): T;
  /** Element-wise cosine. */
  cos(x: T): T;
  /** Element-wise sine. */
  sin(x: T): T;
  /** Softmax over the last axis. */
  softmax(x: T): T;
  /** LayerNorm over the last axis (of width `width`) without affine terms. */
  layerNorm(x: T, width: number, epsilon: number): T;
  /** Mean over `axis`, which is removed. */
  mean(x: T, axis: number): T;
  /** Reshape to `shape` (one `-1` allowed). */
  reshape(x: T, shape: readonly number[]): T;
  /** Permute axes. */
  transpose(x: T, perm: readonly number[]): T;
  /** Batched product of rank-3 tensors `[n, a, b]·[n, b, c]`. */
  matMul(a: T, b: T): T;
  /** Concatenate along `axis`. */
  concat(xs: readonly T[], axis: number): T;
  /** Entries `[start, end)` of `axis`. */
  slice(x: T, axis: number, start: number, end: number): T;
}

/**
 * `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` composed from primitive ops:
 * the reference `gelu` of every {@link GraphOps} implementation (a backend
 * with a fused kernel may run that instead; the parity tests hold it to this).
 *
 * @example
 * ```ts
 * import { geluTanh, type GraphOps } from "./ops.ts";
 * const gelu = <T>(ops: GraphOps<T>, x: T) => geluTanh(ops, x);
 * ```
 */
export function geluTanh<T>(ops: GraphOps<T>, x: T): T {
  const cubic = ops.mul(ops.mul(x, x), x);
  const inner = ops.scale(ops.add(x, ops.scale(cubic, 0.044715)), Math.sqrt(2 / Math.PI));
  return ops.mul(ops.scale(x, 0.5), ops.offset(ops.tanh(inner), 1));
}
