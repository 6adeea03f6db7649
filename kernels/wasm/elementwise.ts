/**
 * The WebAssembly SIMD kernel of float32 add, subtract and multiply
 * (`elementwise.wat`) in the kernels' shared memory (`memory.ts`): each row
 * of a broadcast plan runs four lanes at a time. IEEE float32 arithmetic, so
 * every result equals the JavaScript loops' (NaN stays NaN).
 *
 * @module
 */

import { instantiateEmbedded } from "../../src/wasm/instantiate.ts";
import { ELEMENTWISE_WASM } from "./elementwise_wasm.ts";
import { type Allocate, newFloat32 } from "./allocate.ts";
import { kernelMemory } from "./memory.ts";

/** The operations of the kernel, by their TF.js kernel names. */
export const WASM_BINARY_OPS = { Add: 0, Sub: 1, Multiply: 2 } as const;

/** A kernel operation. */
export type WasmBinaryOp = keyof typeof WASM_BINARY_OPS;

/** Visits the rows of a broadcast: each row's first element in `a` and `b`, and its length. */
export type RowVisitor = (
  visit: (aOffset: number, bOffset: number, length: number) => void,
) => void;

/**
 * `out[i] = a[·] op b[·]` over the rows `rows` visits, written in order into
 * an array of `size` values from `allocate`; within a row, `aStep` and `bStep` (1, or 0
 * for one repeated value) advance the operands.
 */
export type WasmBinaryKernel = (
  op: WasmBinaryOp,
  a: Float32Array,
  aStep: 0 | 1,
  b: Float32Array,
  bStep: 0 | 1,
  size: number,
  rows: RowVisitor,
) => Float32Array;

/**
 * Instantiates the kernel, or returns `undefined` where WebAssembly SIMD is
 * unavailable. Results go into arrays from `allocate`; operands that lie in
 * the kernels' memory (`memory.ts`, where the output pool allocates) are
 * used in place, others are copied in and out.
 *
 * @example
 * ```ts
 * import { createWasmBinaryKernel } from "./elementwise.ts";
 * const kernel = createWasmBinaryKernel();
 * const sum = kernel?.("Add", Float32Array.of(1, 2), 1, Float32Array.of(10), 0, 2, (visit) => {
 *   visit(0, 0, 2);
 * }); // [11, 12]
 * ```
 */
export function createWasmBinaryKernel(
  allocate: Allocate = newFloat32,
): WasmBinaryKernel | undefined {
  const kernels = kernelMemory();
  if (kernels === undefined) return undefined;
  const { memory, run } = kernels;
  const exports = instantiateEmbedded(ELEMENTWISE_WASM, { kernels: { memory } });
  if (exports === undefined) return undefined;
  const binary = exports.binary as (...args: number[]) => void;
  return (op, a, aStep, b, bStep, size, rows) => {
    const out = allocate(size);
    const code = WASM_BINARY_OPS[op];
    let done = 0;
    run([a, b], [out], ([aAt, bAt, outAt]) => {
      rows((aOffset, bOffset, length) => {
        binary(code, outAt + 4 * done, aAt + 4 * aOffset, aStep, bAt + 4 * bOffset, bStep, length);
        done += length;
      });
    });
    if (done !== size) throw new RangeError(`rows covered ${done} of ${size} values`);
    return out;
  };
}
