/**
 * Float32 reductions for TF.js's CPU backend in plain JavaScript: `Sum`,
 * `Mean` and `Max` over any contiguous block of axes without transposing
 * first, and a one-pass `Softmax` over the last axis. Sums accumulate in
 * float64. Anything else (other dtypes, scattered axes) goes to the kernel
 * they replace.
 *
 * @module
 */

import type { TensorInfo } from "@tensorflow/tfjs-core";
import { planReduction, type ReductionPlan } from "./strided.ts";
import { type CpuKernelArgs, float32Values, type KernelReplacement } from "./tfjs-registry.ts";
import { takeFloat32 } from "./tfjs-pool.ts";

/**
 * Replacements for `Sum`, `Mean`, `Max` and `Softmax`.
 *
 * @example
 * ```ts
 * import { reductionKernels } from "./tfjs-reduce.ts";
 * import { replaceCpuKernels } from "./tfjs-registry.ts";
 * replaceCpuKernels(reductionKernels()).uninstall();
 * ```
 */
export function reductionKernels(): KernelReplacement[] {
  return [
    {
      kernelName: "Sum",
      create: (previous) => (args) => reduce(args, "axis", "sum") ?? previous(args),
    },
    {
      kernelName: "Mean",
      create: (previous) => (args) => reduce(args, "axis", "mean") ?? previous(args),
    },
    {
      kernelName: "Max",
      create: (previous) => (args) => reduce(args, "reductionIndices", "max") ?? previous(args),
    },
    { kernelName: "Softmax", create: (previous) => (args) => softmax(args) ?? previous(args) },
  ];
}

type Reducer = "sum" | "mean" | "max";

function reduce(
  { inputs, backend, attrs = {} }: CpuKernelArgs,
  axisAttr: string,
  reducer: Reducer,
): TensorInfo | undefined {
  const { x } = inputs;
  const values = float32Values(backend, x);
  if (!x || !values) return undefined;
  const axes = parseAxes(attrs[axisAttr], x.shape.length);
  const plan = axes && planReduction(x.shape, axes);
  if (!axes || !plan) return undefined;
  const out = takeFloat32(plan.outer * plan.inner);
  if (reducer === "max") maxInto(out, values, plan);
  else sumInto(out, values, plan, reducer === "mean" ? 1 / plan.reduce : 1);
  const outShape = attrs.keepDims
    ? x.shape.map((size, d) => (axes.includes(d) ? 1 : size))
    : x.shape.filter((_, d) => !axes.includes(d));
  return backend.makeTensorInfo(outShape, "float32", out);
}

/** Normalised axes, or `undefined` if they are not valid (the previous kernel reports it). */
function parseAxes(axis: unknown, rank: number): number[] | undefined {
  if (axis === null || axis === undefined) return Array.from({ length: rank }, (_, d) => d);
  const list = Array.isArray(axis) ? axis : [axis];
  const axes: number[] = [];
  for (const a of list) {
    if (!Number.isInteger(a) || a < -rank || a >= rank) return undefined;
    const d = a < 0 ? a + rank : a;
    if (!axes.includes(d)) axes.push(d);
  }
  return axes;
}

function sumInto(out: Float32Array, x: Float32Array, plan: ReductionPlan, scale: number): void {
  const { outer, reduce, inner } = plan;
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      let total = 0;
      const start = o * reduce;
      for (let r = 0; r < reduce; r++) total += x[start + r];
      out[o] = total * scale;
    }
    return;
  }
  const totals = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    totals.fill(0);
    for (let r = 0; r < reduce; r++) {
      const start = (o * reduce + r) * inner;
      for (let i = 0; i < inner; i++) totals[i] += x[start + i];
    }
    for (let i = 0; i < inner; i++) out[o * inner + i] = totals[i] * scale;
  }
}

function maxInto(out: Float32Array, x: Float32Array, plan: ReductionPlan): void {
  const { outer, reduce, inner } = plan;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = -Infinity;
      for (let r = 0, at = o * reduce * inner + i; r < reduce; r++, at += inner) {
        const v = x[at];
        if (v > best || Number.isNaN(v)) best = v;
        if (Number.isNaN(best)) break;
      }
      out[o * inner + i] = best;
    }
  }
}

function softmax({ inputs, backend, attrs = {} }: CpuKernelArgs): TensorInfo | undefined {
  const { logits } = inputs;
  const values = float32Values(backend, logits);
  if (!logits || !values) return undefined;
  const rank = logits.shape.length;
  const dim = attrs.dim as number;
  if (dim !== -1 && dim !== rank - 1) return undefined;
  const n = logits.shape[rank - 1];
  const out = takeFloat32(values.length);
  for (let start = 0; start < values.length; start += n) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) if (values[start + j] > max) max = values[start + j];
    let total = 0;
    for (let j = 0; j < n; j++) {
      const e = Math.exp(values[start + j] - max);
      out[start + j] = e;
      total += e;
    }
    const inverse = 1 / total;
    for (let j = 0; j < n; j++) out[start + j] *= inverse;
  }
  return backend.makeTensorInfo(logits.shape, "float32", out);
}
