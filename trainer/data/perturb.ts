/**
 * Image corruptions for measuring the evaluator's robustness: Gaussian blur
 * and additive Gaussian pixel noise, both deterministic.
 *
 * @module
 */

import { NormalStream } from "../../src/rng.ts";
import { createImage, type RgbImage } from "../../src/shapes/image.ts";

/**
 * Blurs with a separable Gaussian of standard deviation `sigma` pixels
 * (kernel radius `ceil(3σ)`, edges clamped); `sigma = 0` copies.
 *
 * @example
 * ```ts
 * import { createImage } from "../../src/shapes/image.ts";
 * import { gaussianBlur } from "./perturb.ts";
 * const soft = gaussianBlur(createImage(32, 32), 1);
 * ```
 */
export function gaussianBlur(image: RgbImage, sigma: number): RgbImage {
  if (!(sigma >= 0) || !Number.isFinite(sigma)) {
    throw new RangeError(`blur sigma must be ≥ 0, got ${sigma}`);
  }
  const { width, height } = image;
  const out = createImage(width, height);
  if (sigma === 0) {
    out.data.set(image.data);
    return out;
  }
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from(
    { length: 2 * radius + 1 },
    (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)),
  );
  const total = kernel.reduce((a, b) => a + b, 0);
  const weights = kernel.map((k) => k / total);
  const rows = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let i = -radius; i <= radius; i++) {
          const u = Math.min(width - 1, Math.max(0, x + i));
          s += weights[i + radius] * image.data[(y * width + u) * 3 + c];
        }
        rows[(y * width + x) * 3 + c] = s;
      }
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let i = -radius; i <= radius; i++) {
          const v = Math.min(height - 1, Math.max(0, y + i));
          s += weights[i + radius] * rows[(v * width + x) * 3 + c];
        }
        out.data[(y * width + x) * 3 + c] = Math.round(s);
      }
    }
  }
  return out;
}

/**
 * Adds Gaussian noise of standard deviation `sigma` (in units of the full
 * range: 0.1 is 25.5 levels) to every channel, clamping to 0–255; the noise is
 * {@link NormalStream} `(seed, 0)`.
 */
export function addNoise(image: RgbImage, sigma: number, seed: number): RgbImage {
  if (!(sigma >= 0) || !Number.isFinite(sigma)) {
    throw new RangeError(`noise sigma must be ≥ 0, got ${sigma}`);
  }
  const out = createImage(image.width, image.height);
  const noise = new NormalStream(seed).fill(new Float32Array(image.data.length));
  for (let i = 0; i < noise.length; i++) {
    out.data[i] = Math.round(Math.min(255, Math.max(0, image.data[i] + 255 * sigma * noise[i])));
  }
  return out;
}
