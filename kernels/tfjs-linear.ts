/**
 * A fused linear layer for TF.js, `y = x·Wᵀ + b`, optionally with a LoRA
 * update `scaling · (x·Aᵀ)·Bᵀ` (docs/math.md §7). With
 * {@link installLinearKernels} (part of `installBlasKernels`) the forward
 * pass is one kernel: the update is merged into the (transposed) weight
 * first, `Wᵀ + scaling·Aᵀ·Bᵀ` (a product of weight size, cheaper than two of
 * activation size), the bias is written into the output and the product
 * accumulates onto it with `sgemm`'s `beta = 1`; `dx` uses the same merged
 * weight. Its gradient is lazy per
 * input, so a frozen base weight costs no `dW` product (TF.js only asks for
 * the gradients of inputs on a path to the trained variables). On any other
 * backend it runs as the composite TF.js ops.
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
import { releaseFloat32, takeFloat32 } from "./tfjs-pool.ts";
import { floatCopier } from "./wasm/memory.ts";

const LINEAR = "FlowmapLinear";
/** The same kernel with inputs `loraA` and `loraB` (a saved input cannot be absent). */
const LORA_LINEAR = "FlowmapLoraLinear";
const LINEAR_GRAD_X = "FlowmapLinearGradX";
const LORA_GRAD = "FlowmapLoraGrad";

/** The low-rank factors of a LoRA update: `scaling · B·A` with `A: [r, in]`, `B: [out, r]`. */
export interface LowRankFactors {
  /** `A: [r, in]`. */
  readonly a: tf.Tensor2D;
  /** `B: [out, r]`. */
  readonly b: tf.Tensor2D;
  /** The update scale (`alpha / r`). */
  readonly scaling: number;
}

/**
 * `x·Wᵀ + bias (+ scaling·(x·Aᵀ)·Bᵀ)` over the last axis of `x: [..., in]`,
 * with `weight: [out, in]` and `bias: [out]`; the result is `[..., out]`. The
 * composite form runs on `x` flattened to `[n, in]` and multiplies the rank-r
 * product `x·Aᵀ` by the scale (skipped when it is 1).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { linear } from "./tfjs-linear.ts";
 * linear(tf.ones([2, 3]), tf.ones([4, 3]), tf.zeros([4])); // [[3, 3, 3, 3], [3, 3, 3, 3]]
 * ```
 */
export function linear(
  x: tf.Tensor,
  weight: tf.Tensor2D,
  bias: tf.Tensor1D,
  lora?: LowRankFactors,
): tf.Tensor {
  if (hasActiveKernel(LINEAR) && x.dtype === "float32") {
    const run = (kernel: string, inputs: NamedTensorMap, scaling: number) =>
      tf.engine().runKernel(kernel, inputs, { scaling }) as tf.Tensor;
    return lora === undefined
      ? run(LINEAR, { x, weight, bias }, 1)
      : run(LORA_LINEAR, { x, weight, bias, loraA: lora.a, loraB: lora.b }, lora.scaling);
  }
  return tf.tidy(() => {
    const flat = tf.reshape(x, [-1, weight.shape[1]]) as tf.Tensor2D;
    let y = tf.add(tf.matMul(flat, weight, false, true), bias);
    if (lora !== undefined) {
      const down = tf.matMul(flat, lora.a, false, true);
      const scaled = lora.scaling === 1 ? down : tf.mul(down, tf.scalar(lora.scaling));
      y = tf.add(y, tf.matMul(scaled, lora.b, false, true));
    }
    return tf.reshape(y, [...x.shape.slice(0, -1), weight.shape[0]]);
  });
}

/** `t` as the matrix `[n, last]` of its rows. */
const rows = (t: tf.Tensor) => tf.reshape(t, [-1, t.shape[t.rank - 1]]) as tf.Tensor2D;

for (const lora of [false, true]) {
  tf.registerGradient({
    kernelName: lora ? LORA_LINEAR : LINEAR,
    inputsToSave: lora ? ["x", "weight", "loraA", "loraB"] : ["x", "weight"],
    gradFunc: (dy, saved, attrs) => {
      const [x, weight, a, b] = saved as tf.Tensor2D[];
      const scaling = (attrs as { scaling: number }).scaling;
      const xInputs = lora ? { dy, weight, loraA: a, loraB: b } : { dy, weight };
      const dx = () =>
        tf.engine().runKernel(LINEAR_GRAD_X, xInputs as NamedTensorMap, { scaling }) as tf.Tensor;
      const base = {
        x: dx,
        weight: () => tf.matMul(rows(dy as tf.Tensor), rows(x), true, false),
        bias: () => tf.sum(rows(dy as tf.Tensor), 0),
      };
      if (!lora) return base;
      // both factors are trained together, so one kernel computes both gradients
      const [dA, dB] = tf.engine().runKernel(
        LORA_GRAD,
        { dy, x, loraA: a, loraB: b } as NamedTensorMap,
        { scaling },
      ) as tf.Tensor[];
      return { ...base, loraA: () => dA, loraB: () => dB };
    },
  });
}

/**
 * Registers the CPU kernels behind {@link linear}, running on `blas`;
 * returns a function that unregisters them.
 *
 * @example
 * ```ts ignore
 * import { loadBlas } from "./blas.ts";
 * import { installLinearKernels } from "./tfjs-linear.ts";
 * const uninstall = installLinearKernels(loadBlas());
 * uninstall();
 * ```
 */
export function installLinearKernels(blas: Blas): () => void {
  return registerCpuKernels({
    [LINEAR]: (args) => linearKernel(blas, args),
    [LORA_LINEAR]: (args) => linearKernel(blas, args),
    [LINEAR_GRAD_X]: (args) => linearGradXKernel(blas, args),
    [LORA_GRAD]: (args) => loraGradKernel(blas, args),
  });
}

function values(args: CpuKernelArgs, name: string): Float32Array {
  const result = float32Values(args.backend, args.inputs[name]);
  if (!result) throw new Error(`linear kernel input "${name}" must be a float32 tensor`);
  return result;
}

/** The LoRA factors of a kernel call, if any, with their rank. */
function loraOf(args: CpuKernelArgs): { a: Float32Array; b: Float32Array; r: number } | undefined {
  if (args.inputs.loraA === undefined) return undefined;
  return { a: values(args, "loraA"), b: values(args, "loraB"), r: args.inputs.loraA.shape[0] };
}

/**
 * The transpose of a LoRA layer's weight as used, `Wᵀ + scaling·Aᵀ·Bᵀ`
 * (`[in, out]`), serves the forward product (`x·(Wᵀ + …)`) and `dx`. Tensors
 * are immutable, so it is cached by the identity of the tensors' data: a
 * pass's backward reuses its forward's merge. It is merged again, in place,
 * when the factors change (an optimiser step); the array never leaves a
 * kernel call.
 */
interface MergeCache {
  /** The data of `A` and `B` and the scale of the merge in `transposed`. */
  factors?: { a: object; b: object; scaling: number };
  transposed?: Float32Array;
}

/** Merges of weights used with LoRA, by the base weight's data. */
const merges = new WeakMap<object, MergeCache>();
/** Transposes of weights as stored, by their data (a merge starts from one). */
const storedTransposes = new WeakMap<object, Float32Array>();

/**
 * The `[in, out]` transpose of the weight as used: `Wᵀ` (cached per frozen
 * `W`), or with LoRA `Wᵀ + scaling·Aᵀ·Bᵀ`, one rank-r product of weight size
 * instead of two of activation size per use.
 */
function usedTranspose(blas: Blas, args: CpuKernelArgs): Float32Array {
  const { weight, loraA, loraB } = args.inputs;
  const [m, k] = weight!.shape;
  let stored = storedTransposes.get(weight!.dataId);
  if (!stored) {
    stored = transpose(values(args, "weight"), m, k);
    storedTransposes.set(weight!.dataId, stored);
  }
  const lora = loraOf(args);
  if (!lora) return stored;
  let cache = merges.get(weight!.dataId);
  if (!cache) merges.set(weight!.dataId, cache = {});
  const scaling = args.attrs?.scaling as number;
  const known = cache.factors;
  if (
    cache.transposed && known?.a === loraA!.dataId && known.b === loraB!.dataId &&
    known.scaling === scaling
  ) {
    return cache.transposed;
  }
  const transposed = cache.transposed ??= new Float32Array(k * m);
  transposed.set(stored);
  blas.sgemm(true, true, k, m, lora.r, scaling, lora.a, k, lora.b, lora.r, 1, transposed, m);
  cache.factors = { a: loraA!.dataId, b: loraB!.dataId, scaling };
  return transposed;
}

/** The `[k, m]` transpose of a row-major `[m, k]` matrix (into `t`). */
function transpose(
  w: Float32Array,
  m: number,
  k: number,
  t: Float32Array = new Float32Array(m * k),
): Float32Array {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < k; j++) t[j * m + i] = w[i * k + j];
  }
  return t;
}

function linearKernel(blas: Blas, args: CpuKernelArgs): TensorInfo {
  const x = values(args, "x"), bias = values(args, "bias");
  const [m, k] = args.inputs.weight!.shape;
  const n = x.length / k;
  const out = takeFloat32(n * m);
  // the bias in every row: one row, then the filled rows doubled (log n copies, not n)
  out.set(bias);
  const copy = floatCopier(out, out);
  for (let filled = m; filled < out.length; filled *= 2) {
    copy(filled, 0, Math.min(filled, out.length - filled));
  }
  if (args.inputs.loraA === undefined) {
    blas.sgemm(false, true, n, m, k, 1, x, k, values(args, "weight"), k, 1, out, m);
  } else {
    blas.sgemm(false, false, n, m, k, 1, x, k, usedTranspose(blas, args), m, 1, out, m);
  }
  const shape = [...args.inputs.x!.shape.slice(0, -1), m];
  return args.backend.makeTensorInfo(shape, "float32", out);
}

/** `dx = dy·(W + scaling·B·A)`. */
function linearGradXKernel(blas: Blas, args: CpuKernelArgs): TensorInfo {
  const dy = values(args, "dy");
  const [m, k] = args.inputs.weight!.shape;
  const wT = usedTranspose(blas, args);
  const n = dy.length / m;
  const dx = takeFloat32(n * k);
  blas.sgemm(false, true, n, k, m, 1, dy, m, wT, m, 0, dx, k);
  const shape = [...args.inputs.dy!.shape.slice(0, -1), k];
  return args.backend.makeTensorInfo(shape, "float32", dx);
}

/** `dA = scaling·(dy·B)ᵀ·x` and `dB = scaling·dyᵀ·(x·Aᵀ)`. */
function loraGradKernel(blas: Blas, args: CpuKernelArgs): TensorInfo[] {
  const dy = values(args, "dy"), x = values(args, "x");
  const { a, b, r } = loraOf(args)!;
  const dyShape = args.inputs.dy!.shape, xShape = args.inputs.x!.shape;
  const m = dyShape[dyShape.length - 1], k = xShape[xShape.length - 1];
  const n = dy.length / m;
  const scaling = args.attrs?.scaling as number;
  const up = takeFloat32(n * r), down = takeFloat32(n * r);
  blas.sgemm(false, false, n, r, m, 1, dy, m, b, r, 0, up, r);
  // x·Aᵀ with Aᵀ stored: OpenBLAS runs a narrow (r-column) product several times faster untransposed
  const aT = transpose(a, r, k, takeFloat32(r * k));
  blas.sgemm(false, false, n, r, k, 1, x, k, aT, r, 0, down, r);
  const dA = takeFloat32(r * k), dB = takeFloat32(m * r);
  blas.sgemm(true, false, r, k, n, scaling, up, r, x, k, 0, dA, k);
  blas.sgemm(true, false, m, r, n, scaling, dy, m, down, r, 0, dB, r);
  for (const scratch of [up, down, aT]) releaseFloat32(scratch);
  const { backend } = args;
  return [
    backend.makeTensorInfo([r, k], "float32", dA),
    backend.makeTensorInfo([m, r], "float32", dB),
  ];
}
