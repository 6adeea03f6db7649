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
  /**
   * Adaptive LayerNorm: `layerNorm(x)·(1 + scale) + shift` on `x: [B, T, width]`
   * with per-sample `shift`, `scale: [B, width]`; see {@link composedModulatedLayerNorm}.
   */
  modulatedLayerNorm(x: T, shift: T, scale: T, width: number, epsilon: number): T;
  /**
   * The gated residual `x + gate·h` of adaLN-Zero on `x, h: [B, T, width]`
   * with a per-sample `gate: [B, width]`; see {@link composedGatedResidual}.
   */
  gatedResidual(x: T, gate: T, h: T, width: number): T;
  /**
   * Multi-head softmax attention on `[B, seq, width]` queries, keys and
   * values; see {@link composedAttention}.
   */
  attention(q: T, k: T, v: T, seq: number, heads: number, width: number): T;
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
  /** `axis` cut into `pieces` consecutive parts of `width` entries; see {@link composedSplit}. */
  split(x: T, axis: number, pieces: number, width: number): T[];
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

/**
 * `layerNorm(x)·(1 + scale) + shift` with per-sample `[B, width]` modulation
 * broadcast over tokens, composed from primitive ops: the reference
 * `modulatedLayerNorm` of every {@link GraphOps} implementation.
 *
 * @example
 * ```ts
 * import { composedModulatedLayerNorm, type GraphOps } from "./ops.ts";
 * const adaLn = <T>(ops: GraphOps<T>, x: T, shift: T, scale: T) =>
 *   composedModulatedLayerNorm(ops, x, shift, scale, 128, 1e-6);
 * ```
 */
export function composedModulatedLayerNorm<T>(
  ops: GraphOps<T>,
  x: T,
  shift: T,
  scale: T,
  width: number,
  epsilon: number,
): T {
  const perSample = (v: T) => ops.reshape(v, [-1, 1, width]);
  const normed = ops.layerNorm(x, width, epsilon);
  return ops.add(ops.mul(normed, ops.offset(perSample(scale), 1)), perSample(shift));
}

/**
 * `x + gate·h` with a per-sample `[B, width]` gate broadcast over tokens,
 * composed from primitive ops (the reference `gatedResidual`).
 *
 * @example
 * ```ts
 * import { composedGatedResidual, type GraphOps } from "./ops.ts";
 * const residual = <T>(ops: GraphOps<T>, x: T, gate: T, h: T) =>
 *   composedGatedResidual(ops, x, gate, h, 128);
 * ```
 */
export function composedGatedResidual<T>(ops: GraphOps<T>, x: T, gate: T, h: T, width: number): T {
  return ops.add(x, ops.mul(ops.reshape(gate, [-1, 1, width]), h));
}

/**
 * Multi-head softmax attention on `[B, seq, width]` tensors as rank-3
 * matmuls over `B·heads`: `softmax(q_h·k_hᵀ / √(width/heads))·v_h` per head,
 * composed from primitive ops (the reference `attention` of every
 * {@link GraphOps} implementation).
 *
 * @example
 * ```ts
 * import { composedAttention, type GraphOps } from "./ops.ts";
 * const attend = <T>(ops: GraphOps<T>, q: T, k: T, v: T) => composedAttention(ops, q, k, v, 24, 4, 128);
 * ```
 */
export function composedAttention<T>(
  ops: GraphOps<T>,
  q: T,
  k: T,
  v: T,
  seq: number,
  heads: number,
  width: number,
): T {
  const headDim = width / heads;
  const split = (x: T, perm: number[], shape: number[]) =>
    ops.reshape(ops.transpose(ops.reshape(x, [-1, seq, heads, headDim]), perm), shape);
  const qh = split(ops.scale(q, 1 / Math.sqrt(headDim)), [0, 2, 1, 3], [-1, seq, headDim]);
  const kh = split(k, [0, 2, 3, 1], [-1, headDim, seq]);
  const vh = split(v, [0, 2, 1, 3], [-1, seq, headDim]);
  const heads3 = ops.matMul(ops.softmax(ops.matMul(qh, kh)), vh);
  return ops.reshape(
    ops.transpose(ops.reshape(heads3, [-1, heads, seq, headDim]), [0, 2, 1, 3]),
    [-1, seq, width],
  );
}

/**
 * `axis` of `x` cut into `pieces` consecutive parts of `width` entries, as
 * one `slice` per part (the reference `split`).
 *
 * @example
 * ```ts
 * import { composedSplit, type GraphOps } from "./ops.ts";
 * const halves = <T>(ops: GraphOps<T>, x: T) => composedSplit(ops, x, 1, 2, 64);
 * ```
 */
export function composedSplit<T>(
  ops: GraphOps<T>,
  x: T,
  axis: number,
  pieces: number,
  width: number,
): T[] {
  return Array.from({ length: pieces }, (_, i) => ops.slice(x, axis, i * width, (i + 1) * width));
}
