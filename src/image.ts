/**
 * Tensors to pictures: channel-first float samples in [-1, 1] become 8-bit
 * interleaved images, and images become PNG or WebP bytes.
 *
 * PNG is encoded in TypeScript (no native code, no permissions); WebP loads
 * sharp (a native addon) when first asked for, so importing this module
 * stays edge-safe.
 *
 * @module
 */

import type { Tensor } from "./flowmap.ts";
import { encodePng } from "./png.ts";
import { onFirstUse } from "./wasm/instantiate.ts";
import { createPixelKernel, pixelsInJavaScript } from "./wasm/pixels.ts";

/** An 8-bit image with interleaved channels (HWC), row-major from the top left. */
export interface Image {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** Channels per pixel (3 for RGB). */
  readonly channels: number;
  /** `height·width·channels` bytes. */
  readonly data: Uint8Array;
}

/** Encodings {@link encodeImage} supports. */
export type ImageFormat = "png" | "webp";

/**
 * Converts a batch `[B, C, H, W]` of samples in [-1, 1] to images:
 * `byte = round((v + 1) / 2 · 255)`, clamped to [0, 255].
 *
 * @example
 * ```ts
 * import { toImages } from "./image.ts";
 * const [image] = toImages({ data: new Float32Array(3 * 2 * 2), shape: [1, 3, 2, 2] });
 * image.data[0]; // 128 (mid grey)
 * ```
 */
export function toImages(batch: Tensor): Image[] {
  if (batch.shape.length !== 4) {
    throw new RangeError(`images need a [B, C, H, W] tensor, got shape [${batch.shape}]`);
  }
  const [count, channels, height, width] = batch.shape;
  const plane = height * width, size = channels * plane;
  if (batch.data.length !== count * size) {
    throw new RangeError(`tensor holds ${batch.data.length} values, shape needs ${count * size}`);
  }
  const convert = pixelKernel() ?? pixelsInJavaScript;
  return convert(batch.data, count, channels, plane).map((data) => ({
    width,
    height,
    channels,
    data,
  }));
}

/**
 * Encodes an image as lossless PNG or WebP. PNG needs no permissions and no
 * native code (it runs on the `"web"` runtime's edge path); WebP goes
 * through sharp, loaded on first use, which needs `--allow-ffi` and
 * `--allow-read`. The same image always gives the same bytes.
 *
 * @example
 * ```ts ignore
 * import { encodeImage } from "./image.ts";
 * const png = await encodeImage({ width: 1, height: 1, channels: 3, data: new Uint8Array(3) }, "png");
 * ```
 */
export async function encodeImage(image: Image, format: ImageFormat = "png"): Promise<Uint8Array> {
  const { width, height, channels, data } = image;
  if (![1, 3, 4].includes(channels) || data.length !== width * height * channels) {
    throw new RangeError(
      `image of ${width}×${height}×${channels} needs ${width * height * channels} bytes ` +
        `and 1, 3 or 4 channels, got ${data.length} bytes`,
    );
  }
  if (format !== "png" && format !== "webp") {
    throw new RangeError(`image format must be "png" or "webp", got ${format}`);
  }
  if (format === "png") return await encodePng(image);
  const { default: sharp } = await importSharp();
  const raw = sharp(data, { raw: { width, height, channels: channels as 1 | 3 | 4 } });
  return new Uint8Array(await raw.webp({ lossless: true }).toBuffer());
}

const pixelKernel = onFirstUse(createPixelKernel);

async function importSharp() {
  try {
    // deno-lint-ignore no-import-prefix -- pinned in the SDK: importers need no import map
    return await import("npm:sharp@0.35.5");
  } catch (cause) {
    throw new Error(
      `WebP encoding needs sharp, which could not be loaded (${(cause as Error).message}); ` +
        `it needs --allow-ffi and --allow-read — encode as "png" where native code is not allowed`,
      { cause },
    );
  }
}
