/**
 * Tensor values to interleaved 8-bit pixels for `toImages` (`src/image.ts`): a
 * WebAssembly SIMD kernel (`pixels.wat`) and the JavaScript
 * reference it matches byte for byte.
 *
 * @module
 */

import { instantiateEmbedded } from "./instantiate.ts";
import { PIXELS_WASM } from "./pixels_wasm.ts";

const PAGE = 65536;
const FLOATS = 64;

/** Converts a `[images, channels, plane]` tensor to one pixel buffer per image. */
export type PixelKernel = (
  values: Float32Array,
  images: number,
  channels: number,
  plane: number,
) => Uint8Array[];

/**
 * The JavaScript conversion: `v = (x + 1) · 127.5`, then 0 for `v ≤ 0` (and
 * NaN), 255 for `v ≥ 255`, else `⌊v + 0.5⌋` (round half up).
 *
 * @example
 * ```ts
 * import { pixelsInJavaScript } from "./pixels.ts";
 * const [pixels] = pixelsInJavaScript(Float32Array.of(-1, 0, 1), 1, 3, 1); // 0, 128, 255
 * ```
 */
export function pixelsInJavaScript(
  values: Float32Array,
  images: number,
  channels: number,
  plane: number,
): Uint8Array[] {
  const size = channels * plane;
  return Array.from({ length: images }, (_, n) => {
    const data = new Uint8Array(size);
    for (let c = 0; c < channels; c++) {
      let from = n * size + c * plane;
      for (let to = c; to < size; to += channels) {
        // Inside (0, 255), v + 0.5 is exact for float32 inputs, so truncating
        // it is Math.round(v); NaN becomes 0.
        const v = (values[from++] + 1) * 127.5;
        data[to] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
      }
    }
    return data;
  });
}

/**
 * Instantiates the kernel, or returns `undefined` where the runtime has no
 * WebAssembly SIMD (callers then use the JavaScript loop).
 *
 * @example
 * ```ts
 * import { createPixelKernel } from "./pixels.ts";
 * const [pixels] = createPixelKernel()!(new Float32Array(3 * 16), 1, 3, 16); // 48 bytes of 128
 * ```
 */
export function createPixelKernel(): PixelKernel | undefined {
  const exports = instantiateEmbedded(PIXELS_WASM);
  if (exports === undefined) return undefined;
  const memory = exports.memory as WebAssembly.Memory;
  const convert = exports.convert as (input: number, out: number, count: number) => void;
  const interleave = exports.interleave as (...args: number[]) => void;
  return (values, images, channels, plane) => {
    const size = channels * plane, padded = Math.ceil(values.length / 16) * 16;
    // floats from byte 64 (after the kernel's constants), planar bytes, pixels
    const planar = FLOATS + 4 * padded, out = planar + padded, end = out + padded;
    if (end > memory.buffer.byteLength) {
      memory.grow(Math.ceil((end - memory.buffer.byteLength) / PAGE));
    }
    new Float32Array(memory.buffer, FLOATS, values.length).set(values);
    convert(FLOATS, planar, padded);
    interleave(planar, out, images, channels, plane);
    return Array.from(
      { length: images },
      (_, i) => new Uint8Array(memory.buffer.slice(out + i * size, out + (i + 1) * size)),
    );
  };
}
