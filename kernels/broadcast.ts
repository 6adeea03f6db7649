/**
 * NumPy-style broadcasting over row-major Float32Arrays, with fast paths for
 * the layouts a network produces (scalar, same shape, trailing vector).
 *
 * @module
 */

/**
 * The broadcast of two shapes (NumPy rules); throws naming `what` if they clash.
 *
 * @example
 * ```ts
 * import { broadcastShapes } from "./broadcast.ts";
 * broadcastShapes([4, 1, 3], [2, 1], "add"); // [4, 2, 3]
 * ```
 */
export function broadcastShapes(
  a: readonly number[],
  b: readonly number[],
  what: string,
): number[] {
  const rank = Math.max(a.length, b.length);
  const shape = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${what}: shapes [${a}] and [${b}] cannot be broadcast together`);
    }
    shape[i] = da === 1 ? db : da;
  }
  return shape;
}

/**
 * For each element of a `targetShape` array, the index of the element of an
 * `operandShape` array broadcast onto it (`operandShape` must broadcast to
 * `targetShape`). Returns `undefined` when the map is the identity.
 *
 * @example
 * ```ts
 * import { broadcastIndex } from "./broadcast.ts";
 * broadcastIndex([2, 3], [2, 1]); // Int32Array [0, 0, 0, 1, 1, 1]
 * ```
 */
export function broadcastIndex(
  targetShape: readonly number[],
  operandShape: readonly number[],
): Int32Array | undefined {
  const rank = targetShape.length;
  const shift = rank - operandShape.length;
  if (shift < 0) throw new Error(`shape [${operandShape}] does not broadcast to [${targetShape}]`);
  const strides = new Array<number>(rank);
  let identity = true;
  for (let dim = rank - 1, stride = 1; dim >= 0; dim--) {
    const size = dim >= shift ? operandShape[dim - shift] : 1;
    if (size !== targetShape[dim] && size !== 1) {
      throw new Error(`shape [${operandShape}] does not broadcast to [${targetShape}]`);
    }
    if (size !== targetShape[dim]) identity = false;
    strides[dim] = size === 1 ? 0 : stride;
    stride *= size;
  }
  if (identity) return undefined;
  const total = targetShape.reduce((p, d) => p * d, 1);
  const map = new Int32Array(total);
  const index = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let flat = 0; flat < total; flat++) {
    map[flat] = offset;
    for (let dim = rank - 1; dim >= 0; dim--) {
      if (++index[dim] < targetShape[dim]) {
        offset += strides[dim];
        break;
      }
      offset -= (targetShape[dim] - 1) * strides[dim];
      index[dim] = 0;
    }
  }
  return map;
}

/**
 * `target += operand` with `operand` broadcast to `targetShape`.
 *
 * @example
 * ```ts
 * import { addBroadcast } from "./broadcast.ts";
 * const rows = Float32Array.of(1, 2, 3, 4);
 * addBroadcast(rows, [2, 2], Float32Array.of(10, 20), [2]); // [11, 22, 13, 24]
 * ```
 */
export function addBroadcast(
  target: Float32Array,
  targetShape: readonly number[],
  operand: Float32Array,
  operandShape: readonly number[],
): Float32Array {
  const size = target.length;
  const period = trailingPeriod(targetShape, operandShape);
  if (period !== undefined) {
    for (let start = 0; start < size; start += period) {
      for (let j = 0; j < period; j++) target[start + j] += operand[j];
    }
    return target;
  }
  const map = broadcastIndex(targetShape, operandShape);
  if (!map) throw new Error("unreachable: identity broadcast has a period");
  for (let i = 0; i < size; i++) target[i] += operand[map[i]];
  return target;
}

/**
 * If `operandShape` (after dropping leading 1s) equals the trailing dims of
 * `targetShape`, the operand repeats with that period; else `undefined`.
 */
function trailingPeriod(
  targetShape: readonly number[],
  operandShape: readonly number[],
): number | undefined {
  let first = 0;
  while (first < operandShape.length && operandShape[first] === 1) first++;
  const trailing = operandShape.slice(first);
  if (trailing.length > targetShape.length) return undefined;
  const shift = targetShape.length - trailing.length;
  for (let i = 0; i < trailing.length; i++) {
    if (trailing[i] !== targetShape[shift + i]) return undefined;
  }
  return trailing.reduce((p, d) => p * d, 1);
}
