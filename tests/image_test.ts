import assert from "node:assert/strict";
import { encodeImage, toImages } from "../src/image.ts";

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
  await assert.rejects(encodeImage({ ...image, data: data.subarray(1) }), /needs 144 bytes/);
  await assert.rejects(encodeImage(image, "gif" as "png"), /"png" or "webp"/);
});
