/**
 * Float32 element-wise TF.js CPU kernels: broadcasting binary ops, unary math
 * and `Transpose`. The stock CPU kernels convert every broadcast element's
 * flat index to coordinates and back with fresh arrays; these walk merged
 * strides instead (see `strided.ts`), which is much faster on the shapes of
 * a transformer's forward and backward pass (docs/benchmarks.md). Large adds, subtracts and
 * multiplies run in WebAssembly SIMD (`wasm/elementwise.ts`, the same values),
 * the rest in JavaScript. Anything not float32 goes to the kernel they
 * replace.
 *
 * @module
 */

import type { TensorInfo } from "@tensorflow/tfjs-core";
import { broadcastShapes } from "./broadcast.ts";
import { forEachRow, planBroadcast, planTranspose } from "./strided.ts";
import { type CpuKernelArgs, float32Values, type KernelReplacement } from "./tfjs-registry.ts";
import { onFirstUse } from "../src/wasm/instantiate.ts";
import { createWasmBinaryKernel, WASM_BINARY_OPS, type WasmBinaryOp } from "./wasm/elementwise.ts";
import { takeFloat32 } from "./tfjs-pool.ts";

/** Below about these (measured), copying into WebAssembly memory costs more than it saves. */
const WASM_MIN_SIZE = 1024, WASM_MIN_ROW = 8;

type BinaryRow = (
  out: Float32Array,
  o: number,
  a: Float32Array,
  ai: number,
  as: number,
  b: Float32Array,
  bi: number,
  bs: number,
  n: number,
) => void;

// One function per op so V8 compiles each inner loop monomorphically.
const BINARY: Record<string, BinaryRow> = {
  Add(out, o, a, ai, as, b, bi, bs, n) {
    for (let i = 0; i < n; i++) out[o + i] = a[ai + i * as] + b[bi + i * bs];
  },
  Sub(out, o, a, ai, as, b, bi, bs, n) {
    for (let i = 0; i < n; i++) out[o + i] = a[ai + i * as] - b[bi + i * bs];
  },
  Multiply(out, o, a, ai, as, b, bi, bs, n) {
    for (let i = 0; i < n; i++) out[o + i] = a[ai + i * as] * b[bi + i * bs];
  },
  RealDiv(out, o, a, ai, as, b, bi, bs, n) {
    for (let i = 0; i < n; i++) out[o + i] = a[ai + i * as] / b[bi + i * bs];
  },
  SquaredDifference(out, o, a, ai, as, b, bi, bs, n) {
    for (let i = 0; i < n; i++) {
      const d = a[ai + i * as] - b[bi + i * bs];
      out[o + i] = d * d;
    }
  },
  Maximum(out, o, a, ai, as, b, bi, bs, n) {
    for (let i = 0; i < n; i++) out[o + i] = Math.max(a[ai + i * as], b[bi + i * bs]);
  },
  Minimum(out, o, a, ai, as, b, bi, bs, n) {
    for (let i = 0; i < n; i++) out[o + i] = Math.min(a[ai + i * as], b[bi + i * bs]);
  },
};

type UnaryLoop = (out: Float32Array, x: Float32Array) => void;

const UNARY: Record<string, UnaryLoop> = {
  Exp(out, x) {
    for (let i = 0; i < x.length; i++) out[i] = Math.exp(x[i]);
  },
  Tanh(out, x) {
    for (let i = 0; i < x.length; i++) out[i] = Math.tanh(x[i]);
  },
  Sigmoid(out, x) {
    for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]));
  },
  Sqrt(out, x) {
    for (let i = 0; i < x.length; i++) out[i] = Math.sqrt(x[i]);
  },
  Rsqrt(out, x) {
    for (let i = 0; i < x.length; i++) out[i] = 1 / Math.sqrt(x[i]);
  },
  Square(out, x) {
    for (let i = 0; i < x.length; i++) out[i] = x[i] * x[i];
  },
  Neg(out, x) {
    for (let i = 0; i < x.length; i++) out[i] = -x[i];
  },
};

/**
 * Replacements for the broadcasting binary ops (`Add`, `Sub`, `Multiply`,
 * `RealDiv`, `SquaredDifference`, `Maximum`, `Minimum`), unary math (`Exp`,
 * `Tanh`, `Sigmoid`, `Sqrt`, `Rsqrt`, `Square`, `Neg`) and `Transpose`.
 *
 * @example
 * ```ts
 * import { elementwiseKernels } from "./tfjs-elementwise.ts";
 * import { replaceCpuKernels } from "./tfjs-registry.ts";
 * replaceCpuKernels(elementwiseKernels()).uninstall();
 * ```
 */
export function elementwiseKernels(): KernelReplacement[] {
  return [
    ...Object.entries(BINARY).map(([kernelName, row]) => ({
      kernelName,
      create:
        (previous: (args: CpuKernelArgs) => TensorInfo | TensorInfo[]) => (args: CpuKernelArgs) =>
          binary(kernelName, row, args) ?? previous(args),
    })),
    ...Object.entries(UNARY).map(([kernelName, loop]) => ({
      kernelName,
      create:
        (previous: (args: CpuKernelArgs) => TensorInfo | TensorInfo[]) => (args: CpuKernelArgs) =>
          unary(loop, args) ?? previous(args),
    })),
    {
      kernelName: "Transpose",
      create: (previous) => (args) => transpose(args) ?? previous(args),
    },
  ];
}

function binary(name: string, row: BinaryRow, { inputs, backend }: CpuKernelArgs) {
  const { a, b } = inputs;
  const aValues = float32Values(backend, a);
  const bValues = float32Values(backend, b);
  if (!a || !b || !aValues || !bValues) return undefined;
  const outShape = broadcastShapes(a.shape, b.shape, name);
  const size = outShape.reduce((p, d) => p * d, 1);
  const plan = planBroadcast(outShape, [a.shape, b.shape]);
  const aStride = plan.strides[0][plan.shape.length - 1];
  const bStride = plan.strides[1][plan.shape.length - 1];
  const wasm = name in WASM_BINARY_OPS && size >= WASM_MIN_SIZE &&
      plan.shape[plan.shape.length - 1] >= WASM_MIN_ROW
    ? wasmKernel()
    : undefined;
  if (wasm) {
    const values = wasm(
      name as WasmBinaryOp,
      aValues,
      aStride as 0 | 1,
      bValues,
      bStride as 0 | 1,
      size,
      (visit) => forEachRow(plan, (offsets, length) => visit(offsets[0], offsets[1], length)),
    );
    return backend.makeTensorInfo(outShape, "float32", values);
  }
  const out = takeFloat32(size);
  let start = 0;
  forEachRow(plan, (offsets, length) => {
    row(out, start, aValues, offsets[0], aStride, bValues, offsets[1], bStride, length);
    start += length;
  });
  return backend.makeTensorInfo(outShape, "float32", out);
}

const wasmKernel = onFirstUse(() => createWasmBinaryKernel(takeFloat32));

function unary(loop: UnaryLoop, { inputs, backend }: CpuKernelArgs) {
  const { x } = inputs;
  const values = float32Values(backend, x);
  if (!x || !values) return undefined;
  const out = takeFloat32(values.length);
  loop(out, values);
  return backend.makeTensorInfo(x.shape, "float32", out);
}

function transpose({ inputs, backend, attrs = {} }: CpuKernelArgs) {
  const { x } = inputs;
  const values = float32Values(backend, x);
  const perm = attrs.perm as number[] | undefined;
  if (!x || !values || !perm) return undefined;
  const outShape = perm.map((axis) => x.shape[axis]);
  const out = takeFloat32(values.length);
  const plan = planTranspose(x.shape, perm);
  // a leading axis of one value makes every plan at least two axes deep
  const shape = [1, ...plan.shape], strides = [0, ...plan.strides[0]];
  // blocks of the two innermost axes, walked inline: a callback per row, or
  // index arithmetic per row, costs more than copying the short rows of e.g.
  // a patchify transpose
  const rank = shape.length;
  const rows = shape[rank - 2], rowStride = strides[rank - 2];
  const length = shape[rank - 1], stride = strides[rank - 1];
  const index = new Int32Array(rank - 2);
  for (let start = 0, from = 0; start < out.length; start += rows * length) {
    for (let r = 0, at = start, row = from; r < rows; r++, row += rowStride) {
      for (let i = 0; i < length; i++) out[at++] = values[row + i * stride];
    }
    for (let d = rank - 3; d >= 0; d--) {
      from += strides[d];
      if (++index[d] < shape[d]) break;
      from -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
  return backend.makeTensorInfo(outShape, "float32", out);
}
