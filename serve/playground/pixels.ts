/**
 * Pixels the playground shows and compares: the SHA-256 of an image's 8-bit
 * RGB values, how two runs' pixels differ, and conversions between the SDK's
 * RGB images and a canvas's RGBA. Web standards only, so the page and the
 * tests share it.
 *
 * @module
 */

/** How two sets of 8-bit values differ. */
export interface PixelDifference {
  /** Values compared. */
  readonly values: number;
  /** Values that differ. */
  readonly count: number;
  /** Largest absolute difference, in levels (0 when equal). */
  readonly maxDiff: number;
}

/**
 * The lowercase hex SHA-256 of bytes (an image's `data`: RGB, row-major).
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./pixels.ts";
 * await sha256Hex(new Uint8Array([1, 2, 3])); // "039058c6…"
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Compares two runs value by value: each pair of images must have the same
 * number of values, and the runs the same number of images.
 *
 * @example
 * ```ts
 * import { comparePixels } from "./pixels.ts";
 * comparePixels([new Uint8Array([1, 2, 3])], [new Uint8Array([1, 3, 3])]);
 * // { values: 3, count: 1, maxDiff: 1 }
 * ```
 */
export function comparePixels(
  a: readonly Uint8Array[],
  b: readonly Uint8Array[],
): PixelDifference {
  if (a.length !== b.length) {
    throw new RangeError(`cannot compare ${a.length} images with ${b.length}`);
  }
  let values = 0, count = 0, maxDiff = 0;
  for (const [i, x] of a.entries()) {
    const y = b[i];
    if (x.length !== y.length) {
      throw new RangeError(
        `image ${i} has ${x.length} values in one run and ${y.length} in the other`,
      );
    }
    values += x.length;
    for (let j = 0; j < x.length; j++) {
      const diff = Math.abs(x[j] - y[j]);
      if (diff !== 0) {
        count++;
        if (diff > maxDiff) maxDiff = diff;
      }
    }
  }
  return { values, count, maxDiff };
}

/**
 * RGB to opaque RGBA (a canvas's `ImageData` layout).
 *
 * @example
 * ```ts
 * import { rgbToRgba } from "./pixels.ts";
 * rgbToRgba(new Uint8Array([1, 2, 3])); // [1, 2, 3, 255]
 * ```
 */
export function rgbToRgba(rgb: Uint8Array): Uint8ClampedArray<ArrayBuffer> {
  if (rgb.length % 3 !== 0) {
    throw new RangeError(`RGB needs a multiple of 3 bytes, got ${rgb.length}`);
  }
  const rgba = new Uint8ClampedArray((rgb.length / 3) * 4);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgba[j] = rgb[i];
    rgba[j + 1] = rgb[i + 1];
    rgba[j + 2] = rgb[i + 2];
    rgba[j + 3] = 255;
  }
  return rgba;
}

/**
 * RGBA to RGB, dropping alpha (which must be opaque: a translucent pixel
 * means the image was not one of the SDK's).
 *
 * @example
 * ```ts
 * import { rgbaToRgb } from "./pixels.ts";
 * rgbaToRgb(new Uint8Array([1, 2, 3, 255])); // [1, 2, 3]
 * ```
 */
export function rgbaToRgb(rgba: ArrayLike<number>): Uint8Array {
  if (rgba.length % 4 !== 0) {
    throw new RangeError(`RGBA needs a multiple of 4 bytes, got ${rgba.length}`);
  }
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    if (rgba[i + 3] !== 255) throw new RangeError(`pixel ${i / 4} is not opaque`);
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return rgb;
}
