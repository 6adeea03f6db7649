/**
 * The WebAssembly SIMD kernel of `SamplingNoise` (`src/noise.ts`, `sampling_noise.wat`):
 * whole Philox blocks to float32 Box–Muller normals, eight blocks at a time.
 *
 * @module
 */

import { instantiateEmbedded } from "./instantiate.ts";
import { SAMPLING_NOISE_WASM } from "./sampling_noise_wasm.ts";

/** Blocks per kernel call: the module's memory holds this many blocks' normals. */
export const KERNEL_BLOCKS = 16384;

/** Draws whole blocks; the same bits as `samplingNormals` in `noise.ts`. */
export interface SamplingNoiseKernel {
  /**
   * The `4 · blocks` normals of blocks `first …` of a stream, in a view of
   * the kernel's memory that the next call overwrites.
   *
   * @param key the seed's two uint32 words
   * @param stream the stream's two uint32 words
   * @param first index of the first block (a safe integer)
   * @param blocks how many (at most {@linkcode KERNEL_BLOCKS})
   */
  draw(
    key: readonly [number, number],
    stream: readonly [number, number],
    first: number,
    blocks: number,
  ): Float32Array;
}

/**
 * Instantiates the kernel, or returns `undefined` where the runtime has no
 * WebAssembly or no SIMD (callers then use the JavaScript reference).
 *
 * @example
 * ```ts
 * import { createSamplingNoiseKernel } from "./sampling_noise.ts";
 * const normals = createSamplingNoiseKernel()?.draw([7, 0], [0, 0], 0, 2); // 8 values
 * ```
 */
export function createSamplingNoiseKernel(): SamplingNoiseKernel | undefined {
  const exports = instantiateEmbedded(SAMPLING_NOISE_WASM);
  if (exports === undefined) return undefined;
  const memory = exports.memory as WebAssembly.Memory;
  const fill = exports.fill as (...args: number[]) => void;
  const output = (exports.output as WebAssembly.Global).value as number;
  const normals = new Float32Array(memory.buffer, output, 4 * KERNEL_BLOCKS);
  return {
    draw(key, stream, first, blocks) {
      if (!(blocks >= 0 && blocks <= KERNEL_BLOCKS)) {
        throw new RangeError(`the kernel draws 0..${KERNEL_BLOCKS} blocks, got ${blocks}`);
      }
      const low = first % 2 ** 32, high = Math.floor(first / 2 ** 32);
      fill(key[0], key[1], stream[0], stream[1], low, high, blocks);
      return normals.subarray(0, 4 * blocks);
    },
  };
}
