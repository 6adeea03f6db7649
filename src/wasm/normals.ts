/**
 * The WebAssembly kernel behind {@link NormalStream}'s bulk draws: whole
 * Philox blocks turned into normals by the same operations as `src/rng.ts`
 * (see `normals.wat`), faster than the JavaScript loop (docs/benchmarks.md).
 * The module is embedded (`normals_wasm.ts`), so it needs no file or network
 * permission and works on edge runtimes.
 *
 * @module
 */

import { instantiateEmbedded } from "./instantiate.ts";
import { NORMALS_WASM } from "./normals_wasm.ts";

/** Blocks per kernel call (the most `normals.wat` takes). */
const CHUNK_BLOCKS = 4096;

/** Writes normals of whole Philox blocks; the same bits as the JavaScript path. */
export interface NormalKernel {
  /**
   * Fills `out[at … at + 4·blocks)` with the normals of `blocks` consecutive
   * blocks, starting at block `first`, of key `key` and counter words `stream`.
   */
  fill(
    key: readonly [number, number],
    stream: readonly [number, number],
    first: number,
    blocks: number,
    out: Float32Array | Float64Array,
    at: number,
  ): void;
}

/**
 * Instantiates the kernel with the series coefficients of `rng.ts` (`table`,
 * in the layout of `normals.wat`); `undefined` where WebAssembly is missing.
 *
 * @example
 * ```ts ignore
 * import { createNormalKernel } from "./normals.ts";
 * const kernel = createNormalKernel(table);
 * ```
 */
export function createNormalKernel(table: Float64Array): NormalKernel | undefined {
  const exports = instantiateEmbedded(NORMALS_WASM);
  if (exports === undefined) return undefined;
  const memory = exports.memory as WebAssembly.Memory;
  const run = exports.fill as (...args: number[]) => void;
  const output = (exports.output as WebAssembly.Global).value as number;
  new Float64Array(memory.buffer, 0, table.length).set(table);
  const f32 = new Float32Array(memory.buffer, output, 4 * CHUNK_BLOCKS);
  const f64 = new Float64Array(memory.buffer, output, 4 * CHUNK_BLOCKS);
  return {
    fill(key, stream, first, blocks, out, at) {
      const single = out instanceof Float32Array;
      for (let done = 0; done < blocks; done += CHUNK_BLOCKS) {
        const count = Math.min(CHUNK_BLOCKS, blocks - done), block = first + done;
        const low = block % 2 ** 32, high = Math.floor(block / 2 ** 32);
        run(key[0], key[1], stream[0], stream[1], low, high, count, +single);
        out.set((single ? f32 : f64).subarray(0, 4 * count), at + 4 * done);
      }
    },
  };
}
