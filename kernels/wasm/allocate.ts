/**
 * Where the WebAssembly kernels put their results: by default a new array,
 * in TF.js kernels an array from the output pool (`kernels/tfjs-pool.ts`).
 *
 * @module
 */

/** Returns a float32 array of `length` values that the caller overwrites completely. */
export type Allocate = (length: number) => Float32Array;

/**
 * A new (zero-filled) array: the default {@link Allocate}.
 *
 * @example
 * ```ts
 * import { newFloat32 } from "./allocate.ts";
 * newFloat32(2); // [0, 0]
 * ```
 */
export function newFloat32(length: number): Float32Array {
  return new Float32Array(length);
}
