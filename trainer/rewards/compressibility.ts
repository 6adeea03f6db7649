/**
 * JPEG compressibility, the aesthetic-free reward of DDPO: the size of each
 * image encoded as JPEG (through sharp), in kilobytes, negated so that
 * smaller files score higher — or, as incompressibility, not negated.
 *
 * @module
 */

import sharp from "sharp";
import { checkRgbImage } from "../../src/shapes/image.ts";
import { defineReward, type Reward } from "./reward.ts";

/** Options of {@link jpegCompressibility}. */
export interface CompressibilityOptions {
  /** JPEG quality 1–100; default 95, as DDPO. */
  quality?: number;
  /** Reward small files (default) or large ones. */
  direction?: "compressibility" | "incompressibility";
}

/**
 * Scores `−size_kB` ("jpeg-compressibility", range `(−∞, 0]`) or `+size_kB`
 * ("jpeg-incompressibility", range `[0, ∞)`), with 1 kB = 1000 bytes.
 *
 * @example
 * ```ts
 * import { createImage } from "../../src/shapes/image.ts";
 * import { jpegCompressibility } from "./compressibility.ts";
 * const [score] = await jpegCompressibility().score([createImage(32, 32)], [""]); // ≈ −0.27 (kB)
 * ```
 */
export function jpegCompressibility(options: CompressibilityOptions = {}): Reward {
  const { quality = 95, direction = "compressibility" } = options;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new RangeError(`JPEG quality must be an integer in 1..100, got ${quality}`);
  }
  if (direction !== "compressibility" && direction !== "incompressibility") {
    throw new RangeError(
      `direction must be compressibility or incompressibility, got ${direction}`,
    );
  }
  const sign = direction === "compressibility" ? -1 : 1;
  const range: [number, number] = sign < 0 ? [-Infinity, 0] : [0, Infinity];
  return defineReward(`jpeg-${direction}`, range, async (images) => {
    const sizes = await Promise.all(images.map(async (image, i) => {
      checkRgbImage(image, `image ${i}`);
      const { width, height, channels } = image;
      const jpeg = await sharp(image.data, { raw: { width, height, channels: channels as 3 } })
        .jpeg({ quality })
        .toBuffer();
      return jpeg.length / 1000;
    }));
    return Float32Array.from(sizes, (kb) => sign * kb);
  });
}
