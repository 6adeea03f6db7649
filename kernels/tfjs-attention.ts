/**
 * Fused multi-head softmax attention for TF.js's CPU backend: on `[B, S, D]`
 * queries, keys and values with `heads` heads of width `D / heads`,
 * `softmax(q_h·k_hᵀ / √(D/heads))·v_h` per sample and head, written straight
 * into the `[B, S, D]` output. The heads are read and written in place with
 * `sgemm`'s leading dimensions, so there are no transposes, and the backward
 * pass is one kernel that reuses the saved probabilities (`dS` for every
 * head at once, so the softmax gradient is one WebAssembly pass):
 *
 *     dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),
 *     dQ = dS·K / √w,  dK = dSᵀ·Q / √w.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { NamedTensorMap, TensorInfo } from "@tensorflow/tfjs-core";
import type { Blas } from "./blas.ts";
import {
  type CpuKernelArgs,
  float32Values,
  hasActiveKernel,
  registerCpuKernels,
} from "./tfjs-registry.ts";
import { onFirstUse } from "../src/wasm/instantiate.ts";
import { createWasmActivation } from "./wasm/activation.ts";
import { releaseFloat32, takeFloat32 } from "./tfjs-pool.ts";
import { declareOutputsWithoutGradient } from "./tfjs-tape.ts";

const ATTENTION = "FlowmapAttention";
const ATTENTION_GRAD = "FlowmapAttentionGrad";

const wasmActivation = onFirstUse(() => createWasmActivation(takeFloat32));

/**
 * Attention by the fused kernel, or `undefined` when it is not installed on
 * the active backend (the caller then composes it from primitive ops).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { fusedAttention } from "./tfjs-attention.ts";
 * const q = tf.ones([1, 3, 8]);
 * const out = fusedAttention(q, q, q, 2); // [1, 3, 8] with the kernel installed
 * ```
 */
export function fusedAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  heads: number,
): tf.Tensor | undefined {
  if (!hasActiveKernel(ATTENTION) || q.dtype !== "float32") return undefined;
  if (q.rank !== 3 || q.shape.join() !== k.shape.join() || q.shape.join() !== v.shape.join()) {
    throw new RangeError(`attention: q, k, v must share one [B, S, D] shape`);
  }
  const width = q.shape[q.rank - 1];
  if (width % heads !== 0) {
    throw new RangeError(`attention: width ${width} is not divisible by ${heads} heads`);
  }
  const [out, probs] = tf.engine().runKernel(ATTENTION, { q, k, v } as NamedTensorMap, {
    heads,
  }) as tf.Tensor[];
  probs.dispose(); // the tape keeps its own reference when it records
  return out;
}

declareOutputsWithoutGradient(ATTENTION, [1]); // the probabilities
tf.registerGradient({
  kernelName: ATTENTION,
  inputsToSave: ["q", "k", "v"],
  outputsToSave: [false, true],
  gradFunc: (dy, saved, attrs) => {
    const [q, k, v, probs] = saved;
    const [dq, dk, dv] = tf.engine().runKernel(
      ATTENTION_GRAD,
      { dy: Array.isArray(dy) ? dy[0] : dy, q, k, v, probs } as NamedTensorMap,
      attrs as never,
    ) as tf.Tensor[];
    return { q: () => dq, k: () => dk, v: () => dv };
  },
});

/**
 * Registers the CPU kernels behind {@link fusedAttention}, running on `blas`;
 * returns a function that unregisters them.
 *
 * @example
 * ```ts ignore
 * import { loadBlas } from "./blas.ts";
 * import { installAttentionKernels } from "./tfjs-attention.ts";
 * const uninstall = installAttentionKernels(loadBlas());
 * uninstall();
 * ```
 */
export function installAttentionKernels(blas: Blas): () => void {
  return registerCpuKernels({
    [ATTENTION]: (args) => attentionKernel(blas, args),
    [ATTENTION_GRAD]: (args) => attentionGradKernel(blas, args),
  });
}

function values(args: CpuKernelArgs, name: string): Float32Array {
  const result = float32Values(args.backend, args.inputs[name]);
  if (!result) throw new Error(`attention kernel input "${name}" must be a float32 tensor`);
  return result;
}

/** Visits a sample's head: its first value in `[B, S, D]` arrays and in `[B, heads, S, S]` ones. */
type HeadVisitor = (at: number, p: number) => void;

function forEachHead(
  { batch, seq, width, heads, headWidth }: ReturnType<typeof geometry>,
  visit: HeadVisitor,
): void {
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      visit(b * seq * width + h * headWidth, (b * heads + h) * seq * seq);
    }
  }
}

function geometry(args: CpuKernelArgs) {
  const [batch, seq, width] = args.inputs.q!.shape;
  const heads = args.attrs?.heads as number;
  const headWidth = width / heads;
  return { batch, seq, width, heads, headWidth, scale: 1 / Math.sqrt(headWidth) };
}

/** Outputs `[out [B, S, D], probabilities [B, heads, S, S]]`. */
function attentionKernel(blas: Blas, args: CpuKernelArgs): TensorInfo[] {
  const q = values(args, "q"), k = values(args, "k"), v = values(args, "v");
  const shape = geometry(args);
  const { batch, seq, width, heads, headWidth, scale } = shape;
  const out = takeFloat32(batch * seq * width);
  const probs = takeFloat32(batch * heads * seq * seq);
  const head = (visit: HeadVisitor) => forEachHead(shape, visit);
  head((at, p) =>
    blas.sgemm(
      false,
      true,
      seq,
      seq,
      headWidth,
      scale,
      q.subarray(at),
      width,
      k.subarray(at),
      width,
      0,
      probs.subarray(p, p + seq * seq),
      seq,
    )
  );
  const wasm = seq % 4 === 0 ? wasmActivation() : undefined;
  if (wasm) wasm.softmaxRows(probs, seq);
  else softmaxRows(probs, seq);
  head((at, p) =>
    blas.sgemm(
      false,
      false,
      seq,
      headWidth,
      seq,
      1,
      probs.subarray(p, p + seq * seq),
      seq,
      v.subarray(at),
      width,
      0,
      out.subarray(at),
      width,
    )
  );
  const { backend } = args;
  return [
    backend.makeTensorInfo([batch, seq, width], "float32", out),
    backend.makeTensorInfo([batch, heads, seq, seq], "float32", probs),
  ];
}

function softmaxRows(x: Float32Array, n: number): void {
  for (let start = 0; start < x.length; start += n) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) if (x[start + j] > max) max = x[start + j];
    let total = 0;
    for (let j = 0; j < n; j++) {
      const e = Math.exp(x[start + j] - max);
      x[start + j] = e;
      total += e;
    }
    const inverse = 1 / total;
    for (let j = 0; j < n; j++) x[start + j] *= inverse;
  }
}

/** `ds ← p·(ds − rowsum(ds·p))` per row of `n` values: the gradient of a row softmax. */
function softmaxGradRows(ds: Float32Array, p: Float32Array, n: number): void {
  for (let row = 0; row < ds.length; row += n) {
    let dot = 0;
    for (let j = 0; j < n; j++) dot += ds[row + j] * p[row + j];
    for (let j = 0; j < n; j++) ds[row + j] = p[row + j] * (ds[row + j] - dot);
  }
}

function attentionGradKernel(blas: Blas, args: CpuKernelArgs): TensorInfo[] {
  const dy = values(args, "dy"), q = values(args, "q"), k = values(args, "k");
  const v = values(args, "v"), probs = values(args, "probs");
  const shape = geometry(args);
  const { batch, seq, width, headWidth, scale } = shape;
  const size = batch * seq * width;
  const dq = takeFloat32(size), dk = takeFloat32(size), dv = takeFloat32(size);
  const ds = takeFloat32(probs.length);
  const head = (visit: HeadVisitor) => forEachHead(shape, visit);
  head((at, p) => {
    const prob = probs.subarray(p, p + seq * seq), dOut = dy.subarray(at);
    blas.sgemm(
      true,
      false,
      seq,
      headWidth,
      seq,
      1,
      prob,
      seq,
      dOut,
      width,
      0,
      dv.subarray(at),
      width,
    );
    const dp = ds.subarray(p, p + seq * seq);
    blas.sgemm(false, true, seq, seq, headWidth, 1, dOut, width, v.subarray(at), width, 0, dp, seq);
  });
  const wasm = seq % 4 === 0 ? wasmActivation() : undefined;
  if (wasm) wasm.softmaxGradRows(ds, probs, seq);
  else softmaxGradRows(ds, probs, seq);
  head((at, p) => {
    const dScores = ds.subarray(p, p + seq * seq);
    blas.sgemm(
      false,
      false,
      seq,
      headWidth,
      seq,
      scale,
      dScores,
      seq,
      k.subarray(at),
      width,
      0,
      dq.subarray(at),
      width,
    );
    blas.sgemm(
      true,
      false,
      seq,
      headWidth,
      seq,
      scale,
      dScores,
      seq,
      q.subarray(at),
      width,
      0,
      dk.subarray(at),
      width,
    );
  });
  releaseFloat32(ds);
  const { backend } = args;
  return [dq, dk, dv].map((d) => backend.makeTensorInfo([batch, seq, width], "float32", d));
}
