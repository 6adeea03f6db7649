/**
 * Index plans for element-wise work on row-major arrays: dimensions of size
 * 1 are dropped and neighbours that move together are merged, so the inner
 * loop of a kernel runs over the longest contiguous stretch possible.
 *
 * @module
 */

/** An output iterated row by row, with each operand's stride per output dim. */
export interface StridedPlan {
  /** Output dims after merging (at least one). */
  shape: number[];
  /** Per operand, its element stride for each dim of `shape` (0 = broadcast). */
  strides: number[][];
}

/**
 * Plans `out[i] = f(a[...], b[...], ...)` with every operand shape broadcast
 * to `outShape` (NumPy rules; the caller has checked they broadcast).
 *
 * @example
 * ```ts
 * import { planBroadcast } from "./strided.ts";
 * planBroadcast([4, 8, 16], [[4, 8, 16], [16]]);
 * // { shape: [32, 16], strides: [[16, 1], [0, 1]] }
 * ```
 */
export function planBroadcast(
  outShape: readonly number[],
  operandShapes: readonly (readonly number[])[],
): StridedPlan {
  const rank = outShape.length;
  const dims: { size: number; full: boolean[] }[] = [];
  for (let d = 0; d < rank; d++) {
    if (outShape[d] === 1) continue;
    const full = operandShapes.map((shape) => (shape[d - (rank - shape.length)] ?? 1) !== 1);
    const last = dims[dims.length - 1];
    if (last && last.full.every((f, i) => f === full[i])) last.size *= outShape[d];
    else dims.push({ size: outShape[d], full });
  }
  if (dims.length === 0) dims.push({ size: 1, full: operandShapes.map(() => false) });
  const strides = operandShapes.map((_, operand) => {
    const result = new Array<number>(dims.length);
    for (let d = dims.length - 1, stride = 1; d >= 0; d--) {
      result[d] = dims[d].full[operand] ? stride : 0;
      if (dims[d].full[operand]) stride *= dims[d].size;
    }
    return result;
  });
  return { shape: dims.map((d) => d.size), strides };
}

/**
 * Calls `row(offsets, length)` for every innermost row of `plan`, where
 * `offsets[i]` is operand `i`'s start and the output start is `rowIndex·length`.
 *
 * @example
 * ```ts
 * import { forEachRow, planBroadcast } from "./strided.ts";
 * const starts: number[] = [];
 * forEachRow(planBroadcast([2, 3], [[2, 3], [2, 1]]), (offsets) => starts.push(offsets[1]));
 * // starts = [0, 1]
 * ```
 */
export function forEachRow(
  plan: StridedPlan,
  row: (offsets: Int32Array, length: number) => void,
): void {
  const { shape, strides } = plan;
  const outer = shape.length - 1;
  const length = shape[outer];
  const rows = shape.slice(0, outer).reduce((p, d) => p * d, 1);
  const offsets = new Int32Array(strides.length);
  const index = new Array<number>(outer).fill(0);
  for (let r = 0; r < rows; r++) {
    row(offsets, length);
    for (let d = outer - 1; d >= 0; d--) {
      const step = ++index[d] < shape[d] ? 1 : 1 - shape[d];
      if (step !== 1) index[d] = 0;
      for (let o = 0; o < offsets.length; o++) offsets[o] += step * strides[o][d];
      if (step === 1) break;
    }
  }
}

/** A reduction over one contiguous block of axes: `[outer, reduce, inner]`. */
export interface ReductionPlan {
  /** Product of the dims before the reduced block. */
  outer: number;
  /** Product of the reduced dims. */
  reduce: number;
  /** Product of the dims after the reduced block. */
  inner: number;
}

/**
 * Plans a reduction of `axes` of `shape`, or returns `undefined` when the
 * reduced axes (ignoring size-1 dims) are not one contiguous block.
 *
 * @example
 * ```ts
 * import { planReduction } from "./strided.ts";
 * planReduction([8, 4, 16], [0, 1]); // { outer: 1, reduce: 32, inner: 16 }
 * ```
 */
export function planReduction(
  shape: readonly number[],
  axes: readonly number[],
): ReductionPlan | undefined {
  const reduced = new Set(axes.map((a) => (a < 0 ? a + shape.length : a)));
  const kept = shape.map((size, d) => ({ size, reduced: reduced.has(d) })).filter((d) =>
    d.size !== 1
  );
  const first = kept.findIndex((d) => d.reduced);
  if (first < 0) return { outer: product(kept.map((d) => d.size)), reduce: 1, inner: 1 };
  let last = first;
  while (last + 1 < kept.length && kept[last + 1].reduced) last++;
  if (kept.slice(last + 1).some((d) => d.reduced)) return undefined;
  return {
    outer: product(kept.slice(0, first).map((d) => d.size)),
    reduce: product(kept.slice(first, last + 1).map((d) => d.size)),
    inner: product(kept.slice(last + 1).map((d) => d.size)),
  };
}

/**
 * Plans `out = transpose(x, perm)` as an output iteration with the input's
 * stride per merged output dim (strides[0] of the returned plan).
 *
 * @example
 * ```ts
 * import { planTranspose } from "./strided.ts";
 * planTranspose([2, 3, 4], [0, 2, 1]); // { shape: [2, 4, 3], strides: [[12, 1, 4]] }
 * ```
 */
export function planTranspose(shape: readonly number[], perm: readonly number[]): StridedPlan {
  const inStrides = new Array<number>(shape.length);
  for (let d = shape.length - 1, stride = 1; d >= 0; d--) {
    inStrides[d] = stride;
    stride *= shape[d];
  }
  const dims: { size: number; stride: number }[] = [];
  for (const axis of perm) {
    const size = shape[axis];
    if (size === 1) continue;
    const last = dims[dims.length - 1];
    if (last && last.stride === inStrides[axis] * size) {
      last.size *= size;
      last.stride = inStrides[axis];
    } else dims.push({ size, stride: inStrides[axis] });
  }
  if (dims.length === 0) dims.push({ size: 1, stride: 1 });
  return { shape: dims.map((d) => d.size), strides: [dims.map((d) => d.stride)] };
}

function product(sizes: number[]): number {
  return sizes.reduce((p, d) => p * d, 1);
}
