/**
 * TF.js CPU kernels `BatchMatMul` and `_FusedMatMul` computed by BLAS
 * `sgemm`. Any rank ≥ 2, broadcast batch dimensions (NumPy rules), both
 * transposes; the fused kernel adds the bias and applies the activation in
 * place on the GEMM output. Non-float32 inputs go to the stock kernel.
 *
 * The backward pass of both ops is made of `BatchMatMul` calls (TF.js's
 * gradients of `matMul` and `fused.matMul`), so it runs on BLAS too.
 *
 * @module
 */

import type { TensorInfo } from "@tensorflow/tfjs-core";
import type { Blas } from "./blas.ts";
import { type CpuKernelArgs, float32Values, type KernelReplacement } from "./tfjs-registry.ts";
import { addBroadcast, broadcastShapes } from "./broadcast.ts";
import { takeFloat32 } from "./tfjs-pool.ts";

/**
 * Replacements for `BatchMatMul` and `_FusedMatMul` that call `blas.sgemm`.
 *
 * @example
 * ```ts ignore
 * import { loadBlas } from "./blas.ts";
 * import { replaceCpuKernels } from "./tfjs-registry.ts";
 * const installed = replaceCpuKernels(matMulKernels(loadBlas()));
 * ```
 */
export function matMulKernels(blas: Blas): KernelReplacement[] {
  return [
    {
      kernelName: "BatchMatMul",
      create: (stock) => (args) => batchMatMul(blas, args) ?? stock(args),
    },
    {
      kernelName: "_FusedMatMul",
      create: (stock) => (args) => fusedMatMul(blas, args) ?? stock(args),
    },
  ];
}

interface GemmPlan {
  outShape: number[];
  m: number;
  n: number;
  k: number;
}

/** `a·b` with `sgemm`, or `undefined` to let the stock kernel handle it. */
function batchMatMul(
  blas: Blas,
  { inputs, backend, attrs }: CpuKernelArgs,
): TensorInfo | undefined {
  const out = gemm(blas, inputs.a, inputs.b, attrs, backend);
  return out && backend.makeTensorInfo(out.plan.outShape, "float32", out.values);
}

function fusedMatMul(blas: Blas, args: CpuKernelArgs): TensorInfo | undefined {
  const { inputs, backend, attrs = {} } = args;
  const { bias, preluActivationWeights } = inputs;
  const activation = (attrs.activation as string | undefined) ?? "linear";
  const biasValues = float32Values(backend, bias);
  const alphaValues = float32Values(backend, preluActivationWeights);
  if ((bias && !biasValues) || (preluActivationWeights && !alphaValues)) return undefined;
  if (!ACTIVATIONS.has(activation)) return undefined;
  const out = gemm(blas, inputs.a, inputs.b, attrs, backend);
  if (!out) return undefined;
  const { plan, values } = out;
  if (bias && biasValues) addBroadcast(values, plan.outShape, biasValues, bias.shape);
  if (activation === "prelu") {
    if (!preluActivationWeights || !alphaValues) throw new Error("prelu needs activation weights");
    prelu(values, plan.outShape, alphaValues, preluActivationWeights.shape);
  } else {
    applyActivation(values, activation, attrs.leakyreluAlpha as number | undefined);
  }
  return backend.makeTensorInfo(plan.outShape, "float32", values);
}

function gemm(
  blas: Blas,
  a: TensorInfo | undefined,
  b: TensorInfo | undefined,
  attrs: Record<string, unknown> = {},
  backend: CpuKernelArgs["backend"],
): { plan: GemmPlan; values: Float32Array } | undefined {
  const aValues = float32Values(backend, a);
  const bValues = float32Values(backend, b);
  if (!a || !b || !aValues || !bValues || a.shape.length < 2 || b.shape.length < 2) {
    return undefined;
  }
  const transA = attrs.transposeA === true;
  const transB = attrs.transposeB === true;
  const [aRows, aCols] = a.shape.slice(-2);
  const [bRows, bCols] = b.shape.slice(-2);
  const m = transA ? aCols : aRows;
  const k = transA ? aRows : aCols;
  const n = transB ? bRows : bCols;
  const kB = transB ? bCols : bRows;
  if (k !== kB) {
    throw new Error(
      `matMul: inner dimensions ${k} and ${kB} of shapes [${a.shape}] and [${b.shape}] ` +
        `(transposeA=${transA}, transposeB=${transB}) must match`,
    );
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const outBatch = broadcastShapes(aBatch, bBatch, "matMul batch dimensions");
  const plan = { outShape: [...outBatch, m, n], m, n, k };
  const values = takeFloat32(product(plan.outShape));
  if (values.length === 0 || k === 0) return { plan, values: values.fill(0) }; // empty product
  const aSize = aRows * aCols, bSize = bRows * bCols, cSize = m * n;
  const aOffsets = batchOffsets(outBatch, aBatch, aSize);
  const bOffsets = batchOffsets(outBatch, bBatch, bSize);
  const batches = aOffsets.length;
  if (!transA && batches > 1 && bOffsets.every((o) => o === 0) && isContiguous(aOffsets, aSize)) {
    // One tall GEMM: every batch of `a` times the same `b`.
    blas.sgemm(false, transB, batches * m, n, k, 1, aValues, aCols, bValues, bCols, 0, values, n);
    return { plan, values };
  }
  for (let i = 0; i < batches; i++) {
    blas.sgemm(
      transA,
      transB,
      m,
      n,
      k,
      1,
      aValues.subarray(aOffsets[i], aOffsets[i] + aSize),
      aCols,
      bValues.subarray(bOffsets[i], bOffsets[i] + bSize),
      bCols,
      0,
      values.subarray(i * cSize, (i + 1) * cSize),
      n,
    );
  }
  return { plan, values };
}

/** Start of each operand matrix for every output batch index (broadcast dims repeat). */
function batchOffsets(outBatch: number[], operandBatch: number[], matrixSize: number): number[] {
  const rank = outBatch.length;
  const shift = rank - operandBatch.length;
  const strides = new Array<number>(rank);
  for (let dim = rank - 1, stride = matrixSize; dim >= 0; dim--) {
    const size = dim >= shift ? operandBatch[dim - shift] : 1;
    strides[dim] = size === 1 ? 0 : stride;
    stride *= size;
  }
  const offsets = new Array<number>(product(outBatch));
  const index = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let flat = 0; flat < offsets.length; flat++) {
    offsets[flat] = offset;
    for (let dim = rank - 1; dim >= 0; dim--) {
      if (++index[dim] < outBatch[dim]) {
        offset += strides[dim];
        break;
      }
      offset -= (outBatch[dim] - 1) * strides[dim];
      index[dim] = 0;
    }
  }
  return offsets;
}

function isContiguous(offsets: number[], matrixSize: number): boolean {
  return offsets.every((offset, i) => offset === i * matrixSize);
}

function product(shape: readonly number[]): number {
  return shape.reduce((total, dim) => total * dim, 1);
}

const ACTIVATIONS = new Set(["linear", "relu", "relu6", "leakyrelu", "sigmoid", "elu", "prelu"]);

function applyActivation(values: Float32Array, activation: string, leakyAlpha = 0.2): void {
  const size = values.length;
  switch (activation) {
    case "relu":
      for (let i = 0; i < size; i++) if (values[i] < 0) values[i] = 0;
      break;
    case "relu6":
      for (let i = 0; i < size; i++) values[i] = Math.min(Math.max(values[i], 0), 6);
      break;
    case "leakyrelu":
      for (let i = 0; i < size; i++) if (values[i] < 0) values[i] *= leakyAlpha;
      break;
    case "sigmoid":
      for (let i = 0; i < size; i++) values[i] = 1 / (1 + Math.exp(-values[i]));
      break;
    case "elu":
      for (let i = 0; i < size; i++) if (values[i] < 0) values[i] = Math.expm1(values[i]);
      break;
  }
}

function prelu(values: Float32Array, shape: number[], alpha: Float32Array, alphaShape: number[]) {
  const slopes = new Float32Array(values.length);
  addBroadcast(slopes, shape, alpha, alphaShape);
  for (let i = 0; i < values.length; i++) if (values[i] < 0) values[i] *= slopes[i];
}
