/**
 * A fused linear layer for TF.js, `y = x·Wᵀ + b`, optionally with a LoRA
 * update `scaling · (x·Aᵀ)·Bᵀ` (docs/math.md §7). With
 * {@link installLinearKernels} (part of `installBlasKernels`) the forward
 * pass is one kernel: the update is merged into the weight first,
 * `W + scaling·B·A` (a product of weight size, cheaper than two of
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

/** A weight as used: `W + scaling·B·A` (or `W`), and its transpose once asked for. */
interface UsedWeight {
  readonly merged: Float32Array;
  transposed?: Float32Array;
}

/**
 * `W + scaling·B·A` (`[out, in]`), or `W` itself without LoRA: one rank-r
 * product of weight size instead of two of activation size per use. Tensors
 * are immutable, so the result is cached by the identity of their data: a
 * pass's backward reuses its forward's merge, and a frozen `W` is the same
 * object every pass.
 */
function usedWeight(blas: Blas, args: CpuKernelArgs): UsedWeight {
  const { weight, loraA, loraB } = args.inputs;
  const w = values(args, "weight");
  const lora = loraOf(args);
  if (!lora) {
    const known = plain.get(weight!.dataId);
    if (known) return known;
    const used = { merged: w };
    plain.set(weight!.dataId, used);
    return used;
  }
  const scaling = args.attrs?.scaling as number;
  const cached = merges.get(loraA!.dataId);
  if (
    cached && cached.weight === weight!.dataId && cached.b === loraB!.dataId &&
    cached.scaling === scaling
  ) {
    return cached.used;
  }
  const [m, k] = weight!.shape;
  const merged = w.slice();
  blas.sgemm(false, false, m, k, lora.r, scaling, lora.b, lora.r, lora.a, k, 1, merged, k);
  const used = { merged };
  merges.set(loraA!.dataId, { weight: weight!.dataId, b: loraB!.dataId, scaling, used });
  return used;
}

/** Weights without LoRA, by their data. */
const plain = new WeakMap<object, UsedWeight>();
/** The last merged weight per `A` (by data identity); dropped with `A`'s data. */
const merges = new WeakMap<
  object,
  { weight: object; b: object; scaling: number; used: UsedWeight }
>();

/** The `[in, out]` transpose of a used weight (`sgemm` is faster with a transposed right operand). */
function transposed(used: UsedWeight, m: number, k: number): Float32Array {
  if (used.transposed) return used.transposed;
  const w = used.merged, t = new Float32Array(m * k);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < k; j++) t[j * m + i] = w[i * k + j];
  }
  return (used.transposed = t);
}

function linearKernel(blas: Blas, args: CpuKernelArgs): TensorInfo {
  const x = values(args, "x"), bias = values(args, "bias");
  const w = usedWeight(blas, args).merged;
  const [m, k] = args.inputs.weight!.shape;
  const n = x.length / k;
  const out = new Float32Array(n * m);
  for (let row = 0; row < n; row++) out.set(bias, row * m);
  blas.sgemm(false, true, n, m, k, 1, x, k, w, k, 1, out, m);
  const shape = [...args.inputs.x!.shape.slice(0, -1), m];
  return args.backend.makeTensorInfo(shape, "float32", out);
}

/** `dx = dy·(W + scaling·B·A)`. */
function linearGradXKernel(blas: Blas, args: CpuKernelArgs): TensorInfo {
  const dy = values(args, "dy");
  const [m, k] = args.inputs.weight!.shape;
  const wT = transposed(usedWeight(blas, args), m, k);
  const n = dy.length / m;
  const dx = new Float32Array(n * k);
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
  const up = new Float32Array(n * r), down = new Float32Array(n * r);
  blas.sgemm(false, false, n, r, m, 1, dy, m, b, r, 0, up, r);
  blas.sgemm(false, true, n, r, k, 1, x, k, a, k, 0, down, r);
  const dA = new Float32Array(r * k), dB = new Float32Array(m * r);
  blas.sgemm(true, false, r, k, n, scaling, up, r, x, k, 0, dA, k);
  blas.sgemm(true, false, m, r, n, scaling, dy, m, down, r, 0, dB, r);
  const { backend } = args;
  return [
    backend.makeTensorInfo([r, k], "float32", dA),
    backend.makeTensorInfo([m, r], "float32", dB),
  ];
}
