/**
 * Fast `Slice`, `SplitV`, `Concat`, `PadV2`, `GatherV2` and `UnsortedSegmentSum` for TF.js's CPU backend. The stock
 * kernels move one element at a time through coordinate conversions when a
 * slice is not contiguous (e.g. a transformer's per-sample chunks of a
 * `[B, 6·D]` modulation, or the `[text; image]` split in attention), and the
 * gradients of `slice` and `concat` are `PadV2` and `SplitV`; in a small
 * MMDiT these dominated the training step. These copy whole contiguous runs
 * with `TypedArray.set`. `UnsortedSegmentSum` (the gradient of `gather`, i.e.
 * of an embedding lookup) is one pass over the rows instead of a masked
 * full-tensor sum per segment. Anything not float32 goes to the stock kernel.
 *
 * @module
 */

import { type CpuKernelArgs, float32Values, type KernelReplacement } from "./tfjs-registry.ts";
import { takeFloat32, takeZeroedFloat32 } from "./tfjs-pool.ts";
import { floatCopier, zeroFloats } from "./wasm/memory.ts";

/**
 * Copies the box `size` at `srcBegin` of a row-major `src` of `srcShape` into
 * `dst` of `dstShape` at `dstBegin`, one contiguous run at a time.
 *
 * @example
 * ```ts
 * import { copyBox } from "./tfjs-layout.ts";
 * const dst = new Float32Array(2);
 * copyBox(Float32Array.of(1, 2, 3, 4), [2, 2], [0, 1], dst, [2, 1], [0, 0], [2, 1]);
 * dst; // [2, 4]
 * ```
 */
export function copyBox(
  src: Float32Array,
  srcShape: readonly number[],
  srcBegin: readonly number[],
  dst: Float32Array,
  dstShape: readonly number[],
  dstBegin: readonly number[],
  size: readonly number[],
): void {
  const rank = size.length;
  if (size.some((s) => s === 0)) return;
  // innermost axis k at which the box stops covering whole rows of both arrays
  let k = rank - 1;
  while (k > 0 && size[k] === srcShape[k] && size[k] === dstShape[k]) k--;
  let run = 1;
  for (let j = k; j < rank; j++) run *= size[j];
  const srcStrides = strides(srcShape), dstStrides = strides(dstShape);
  const counter = new Array(k).fill(0);
  const copy = floatCopier(dst, src);
  let srcBase = 0, dstBase = 0;
  for (let j = 0; j < rank; j++) {
    srcBase += srcBegin[j] * srcStrides[j];
    dstBase += dstBegin[j] * dstStrides[j];
  }
  for (;;) {
    let s = srcBase, d = dstBase;
    for (let j = 0; j < k; j++) {
      s += counter[j] * srcStrides[j];
      d += counter[j] * dstStrides[j];
    }
    copy(d, s, run);
    let j = k - 1;
    while (j >= 0 && ++counter[j] === size[j]) counter[j--] = 0;
    if (j < 0) return;
  }
}

function strides(shape: readonly number[]): number[] {
  const out = new Array(shape.length).fill(1);
  for (let j = shape.length - 2; j >= 0; j--) out[j] = out[j + 1] * shape[j + 1];
  return out;
}

/**
 * The layout kernels as replacements for `replaceCpuKernels`.
 *
 * @example
 * ```ts
 * import { layoutKernels } from "./tfjs-layout.ts";
 * import { replaceCpuKernels } from "./tfjs-registry.ts";
 * replaceCpuKernels(layoutKernels()).uninstall();
 * ```
 */
export function layoutKernels(): KernelReplacement[] {
  return [
    { kernelName: "Slice", create: (previous) => (args) => slice(args) ?? previous(args) },
    { kernelName: "SplitV", create: (previous) => (args) => splitV(args) ?? previous(args) },
    { kernelName: "Concat", create: (previous) => (args) => concat(args) ?? previous(args) },
    { kernelName: "PadV2", create: (previous) => (args) => pad(args) ?? previous(args) },
    { kernelName: "GatherV2", create: (previous) => (args) => gather(args) ?? previous(args) },
    {
      kernelName: "UnsortedSegmentSum",
      create: (previous) => (args) => segmentSum(args) ?? previous(args),
    },
  ];
}

function slice({ inputs, backend, attrs = {} }: CpuKernelArgs) {
  const { x } = inputs;
  const values = float32Values(backend, x);
  const begin = attrs.begin as number | number[] | undefined;
  const size = attrs.size as number | number[] | undefined;
  if (!x || !values || !Array.isArray(begin) || !Array.isArray(size)) return undefined;
  if (begin.length !== x.shape.length || size.length !== x.shape.length) return undefined;
  const extent = size.map((s, j) => (s === -1 ? x.shape[j] - begin[j] : s));
  const out = takeFloat32(extent.reduce((a, b) => a * b, 1));
  copyBox(values, x.shape, begin, out, extent, extent.map(() => 0), extent);
  return backend.makeTensorInfo(extent, "float32", out);
}

function splitV({ inputs, backend, attrs = {} }: CpuKernelArgs) {
  const { x } = inputs;
  const values = float32Values(backend, x);
  const splits = attrs.numOrSizeSplits as number | number[] | undefined;
  const rawAxis = attrs.axis as number | number[] | undefined;
  if (!x || !values || splits === undefined || typeof rawAxis !== "number") return undefined;
  const axis = rawAxis < 0 ? rawAxis + x.shape.length : rawAxis;
  const total = x.shape[axis];
  let sizes: number[];
  if (typeof splits === "number") {
    if (total % splits !== 0) return undefined;
    sizes = new Array(splits).fill(total / splits);
  } else {
    sizes = [...splits];
    const free = sizes.indexOf(-1);
    if (free >= 0) sizes[free] = total - sizes.reduce((a, b) => a + b, 1);
    if (sizes.reduce((a, b) => a + b, 0) !== total) return undefined;
  }
  let offset = 0;
  return sizes.map((n) => {
    const begin = x.shape.map((_, j) => (j === axis ? offset : 0));
    const extent = x.shape.map((s, j) => (j === axis ? n : s));
    const out = takeFloat32(extent.reduce((a, b) => a * b, 1));
    copyBox(values, x.shape, begin, out, extent, extent.map(() => 0), extent);
    offset += n;
    return backend.makeTensorInfo(extent, "float32", out);
  });
}

function concat({ inputs, backend, attrs = {} }: CpuKernelArgs) {
  const parts = Object.values(inputs).filter((t) => t !== undefined);
  const rawAxis = attrs.axis as number | number[] | undefined;
  const first = parts[0];
  if (!first || typeof rawAxis !== "number") return undefined;
  const rank = first.shape.length, axis = rawAxis < 0 ? rawAxis + rank : rawAxis;
  const arrays = parts.map((t) => float32Values(backend, t));
  const fits = (t: typeof first) =>
    t.shape.length === rank && t.shape.every((d, j) => j === axis || d === first.shape[j]);
  if (arrays.some((a) => a === undefined) || !parts.every(fits)) return undefined;
  const outShape = first.shape.map((d, j) => (j === axis ? 0 : d));
  for (const t of parts) outShape[axis] += t.shape[axis];
  const out = takeFloat32(outShape.reduce((a, b) => a * b, 1));
  let offset = 0;
  parts.forEach((t, i) => {
    const at = outShape.map((_, j) => (j === axis ? offset : 0));
    copyBox(arrays[i]!, t.shape, t.shape.map(() => 0), out, outShape, at, t.shape);
    offset += t.shape[axis];
  });
  return backend.makeTensorInfo(outShape, "float32", out);
}

function pad({ inputs, backend, attrs = {} }: CpuKernelArgs) {
  const { x } = inputs;
  const values = float32Values(backend, x);
  const paddings = attrs.paddings as [number, number][] | undefined;
  const constant = (attrs.constantValue as number | undefined) ?? 0;
  if (!x || !values || !Array.isArray(paddings) || paddings.length !== x.shape.length) {
    return undefined;
  }
  const outShape = x.shape.map((s, j) => paddings[j][0] + s + paddings[j][1]);
  const out = takeFloat32(outShape.reduce((a, b) => a * b, 1));
  if (constant === 0) zeroFloats(out);
  else out.fill(constant);
  copyBox(values, x.shape, x.shape.map(() => 0), out, outShape, paddings.map((p) => p[0]), x.shape);
  return backend.makeTensorInfo(outShape, "float32", out);
}

/** Rows of `x` along axis 0 (an embedding lookup), copied whole. */
function gather({ inputs, backend, attrs = {} }: CpuKernelArgs) {
  const { x, indices } = inputs;
  const values = float32Values(backend, x);
  if (!x || !values || !indices || indices.dtype !== "int32") return undefined;
  if (attrs.axis !== 0 || (attrs.batchDims ?? 0) !== 0 || x.shape.length < 1) return undefined;
  const ids = backend.data.get(indices.dataId).values as Int32Array;
  const rows = x.shape[0], inner = values.length / Math.max(rows, 1);
  if (ids.some((id) => id < 0 || id >= rows)) return undefined; // the stock kernel reports it
  const out = takeFloat32(ids.length * inner);
  ids.forEach((id, i) => out.set(values.subarray(id * inner, (id + 1) * inner), i * inner));
  return backend.makeTensorInfo([...indices.shape, ...x.shape.slice(1)], "float32", out);
}

function segmentSum({ inputs, backend, attrs = {} }: CpuKernelArgs) {
  const { x, segmentIds } = inputs;
  const values = float32Values(backend, x);
  const segments = attrs.numSegments as number | undefined;
  if (!x || !values || !segmentIds || segmentIds.dtype !== "int32" || segments === undefined) {
    return undefined;
  }
  if (segmentIds.shape.length !== 1 || segmentIds.shape[0] !== x.shape[0]) return undefined;
  const ids = backend.data.get(segmentIds.dataId).values as Int32Array;
  const inner = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const out = takeZeroedFloat32(segments * inner);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id < 0 || id >= segments) continue;
    const from = i * inner, to = id * inner;
    for (let j = 0; j < inner; j++) out[to + j] += values[from + j];
  }
  return backend.makeTensorInfo([segments, ...x.shape.slice(1)], "float32", out);
}
