import assert from "node:assert/strict";
import { encodeImage, toImages } from "../../src/image.ts";
import { createPixelKernel, pixelsInJavaScript } from "../../src/wasm/pixels.ts";

Deno.test("image: [-1, 1] channel-first tensors become clamped HWC bytes", () => {
  const data = Float32Array.of(-1, 1, 0, 2, /* G */ -2, 0.5, -0.5, 1, /* B */ 0, 0, 0, 0);
  const [image] = toImages({ data, shape: [1, 3, 2, 2] });
  assert.deepEqual(image, {
    width: 2,
    height: 2,
    channels: 3,
    data: Uint8Array.of(0, 0, 128, 255, 191, 128, 128, 64, 128, 255, 255, 128),
  });
  assert.throws(() => toImages({ data, shape: [3, 4] }), /\[B, C, H, W\]/);
  assert.throws(() => toImages({ data, shape: [2, 3, 2, 2] }), /holds 12 values, shape needs 24/);
});

Deno.test("image: PNG and WebP round-trip losslessly and deterministically", async () => {
  const { default: sharp } = await import("sharp");
  const data = Uint8Array.from({ length: 8 * 6 * 3 }, (_, i) => (i * 37) % 256);
  const image = { width: 8, height: 6, channels: 3, data };
  for (const format of ["png", "webp"] as const) {
    const bytes = await encodeImage(image, format);
    assert.deepEqual(await encodeImage(image, format), bytes, `${format} must be deterministic`);
    const decoded = await sharp(bytes).removeAlpha().raw().toBuffer();
    assert.deepEqual(new Uint8Array(decoded), data, `${format} must be lossless`);
  }
  for (const channels of [1, 4]) {
    const pixels = Uint8Array.from({ length: 8 * 6 * channels }, (_, i) => (i * 53) % 256);
    const png = await encodeImage({ width: 8, height: 6, channels, data: pixels }, "png");
    assert.equal((await sharp(png).metadata()).channels, channels);
    const decoded = await sharp(png).toColourspace(channels === 1 ? "b-w" : "srgb").raw()
      .toBuffer();
    assert.deepEqual(new Uint8Array(decoded), pixels, `${channels}-channel PNG must be lossless`);
  }
  await assert.rejects(encodeImage({ ...image, data: data.subarray(1) }), /needs 144 bytes/);
  await assert.rejects(encodeImage(image, "gif" as "png"), /"png" or "webp"/);
});

Deno.test("image: the SIMD pixel kernel and the JavaScript loop agree with Math.round", () => {
  const kernel = createPixelKernel();
  assert.ok(kernel, "this runtime has WebAssembly SIMD");
  const special = [NaN, Infinity, -Infinity, 0, -0, -1, 1, 1e-30, -1e-30, 1 / 255, 3 / 255 - 1];
  // 3 channels with a plane of 16k take the shuffles; the rest go byte by byte;
  // 64 images outgrow the kernel's first memory page
  for (
    const [images, channels, height, width] of [[16, 3, 32, 32], [64, 3, 32, 32], [3, 3, 5, 7], [
      2,
      1,
      4,
      4,
    ], [2, 4, 3, 3]]
  ) {
    const plane = height * width, values = new Float32Array(images * channels * plane);
    for (let i = 0; i < values.length; i++) {
      // half-way points of the byte grid, their float32 neighbours, and a spread
      const k = (i * 7919) % 256, tie = Math.fround((2 * k + 1) / 255 - 1);
      values[i] = i % 5 === 0
        ? special[i % special.length]
        : i % 5 === 1
        ? tie
        : i % 5 === 2
        ? tie + (i % 2 ? 1 : -1) * 2 ** -24
        : ((i * 0.6180339887) % 1) * 2.6 - 1.3;
    }
    const fromKernel = kernel(values, images, channels, plane);
    const fromJs = pixelsInJavaScript(values, images, channels, plane);
    for (let n = 0; n < images; n++) {
      const expected = new Uint8Array(channels * plane);
      for (let c = 0; c < channels; c++) {
        for (let p = 0; p < plane; p++) {
          const v = Math.round((values[(n * channels + c) * plane + p] + 1) * 127.5);
          expected[p * channels + c] = Number.isNaN(v) ? 0 : Math.min(255, Math.max(0, v));
        }
      }
      const shape = `${images}×${channels}×${height}×${width}, image ${n}`;
      assert.deepEqual(fromKernel[n], expected, `kernel, ${shape}`);
      assert.deepEqual(fromJs[n], expected, `JavaScript, ${shape}`);
    }
  }
});
