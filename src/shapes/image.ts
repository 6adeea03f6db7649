/**
 * The image type of the shapes world and conversions to model tensors.
 *
 * Images are 8-bit sRGB, row-major, channels interleaved (HWC): the value of
 * channel `c` at column `x`, row `y` is `data[(y * width + x) * channels + c]`.
 * Models work on float tensors in `[-1, 1]` (`v / 127.5 − 1`), channel-first
 * (CHW) or HWC; {@link imagesToTensor} and {@link tensorToImages} convert.
 *
 * @module
 */

/** An 8-bit HWC image; the same shape as the SDK's image type. */
export interface RgbImage {
  /** Columns. */
  readonly width: number;
  /** Rows. */
  readonly height: number;
  /** Interleaved channels per pixel; the shapes world uses 3 (RGB). */
  readonly channels: number;
  /** `height × width × channels` bytes. */
  readonly data: Uint8Array;
}

/** Memory layout of one image inside a float tensor. */
export type Layout = "chw" | "hwc";

/** A black RGB image of the given size. */
export function createImage(width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width}×${height}`);
  }
  return { width, height, channels: 3, data: new Uint8Array(width * height * 3) };
}

/** Throws a clear error unless `image` is a well-formed RGB image. */
export function checkRgbImage(image: RgbImage, what = "image"): void {
  const { width, height, channels, data } = image ?? {};
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${what}: size must be positive integers, got ${width}×${height}`);
  }
  if (channels !== 3) throw new RangeError(`${what}: needs 3 channels (RGB), got ${channels}`);
  if (!(data instanceof Uint8Array) || data.length !== width * height * 3) {
    throw new RangeError(
      `${what}: data must be a Uint8Array of ${width}×${height}×3 = ${width * height * 3} bytes, ` +
        `got ${data instanceof Uint8Array ? data.length : typeof data}`,
    );
  }
}

/**
 * Packs same-sized images into one float tensor in `[-1, 1]`, batch first,
 * each image laid out as `layout` (`[B, 3, H, W]` for "chw", `[B, H, W, 3]` for "hwc").
 *
 * @example
 * ```ts
 * import { createImage, imagesToTensor, tensorToImages } from "./image.ts";
 * const x = imagesToTensor([createImage(32, 32)], "chw"); // 3072 values, all −1
 * const [back] = tensorToImages(x, 1, 32, 32, "chw");
 * ```
 */
export function imagesToTensor(images: readonly RgbImage[], layout: Layout = "chw"): Float32Array {
  if (images.length === 0) throw new RangeError("imagesToTensor needs at least one image");
  const { width, height } = images[0];
  const plane = width * height;
  const out = new Float32Array(images.length * plane * 3);
  images.forEach((image, b) => {
    checkRgbImage(image, `image ${b}`);
    if (image.width !== width || image.height !== height) {
      throw new RangeError(
        `image ${b} is ${image.width}×${image.height}, image 0 is ${width}×${height}`,
      );
    }
    const base = b * plane * 3;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const at = layout === "chw" ? base + c * plane + p : base + p * 3 + c;
        out[at] = image.data[p * 3 + c] / 127.5 - 1;
      }
    }
  });
  return out;
}

/**
 * Unpacks a `[-1, 1]` float tensor of `batch` images into 8-bit images
 * (values clamped, rounded to nearest; NaN becomes 0).
 */
export function tensorToImages(
  tensor: Float32Array,
  batch: number,
  width: number,
  height: number,
  layout: Layout = "chw",
): RgbImage[] {
  const plane = width * height;
  if (tensor.length !== batch * plane * 3) {
    throw new RangeError(
      `tensor of ${tensor.length} values is not ${batch} images of 3×${height}×${width}`,
    );
  }
  return Array.from({ length: batch }, (_, b) => {
    const image = createImage(width, height);
    const base = b * plane * 3;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = tensor[layout === "chw" ? base + c * plane + p : base + p * 3 + c];
        const clamped = v > -1 ? Math.min(1, v) : -1; // NaN fails the test: black
        image.data[p * 3 + c] = Math.round(clamped * 127.5 + 127.5);
      }
    }
    return image;
  });
}
