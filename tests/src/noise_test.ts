import assert from "node:assert/strict";
import { boxMuller32, SamplingNoise, samplingNormals } from "../../src/noise.ts";
import { NormalStream, PhiloxBlocks } from "../../src/rng.ts";
import { createSamplingNoiseKernel } from "../../src/wasm/sampling_noise.ts";
import { moments } from "../_assert.ts";

const bitsOf = (values: Float32Array) => new Uint32Array(values.slice().buffer);

Deno.test("noise: the SIMD kernel draws the JavaScript reference's bits", () => {
  const kernel = createSamplingNoiseKernel();
  assert.ok(kernel, "this runtime has WebAssembly SIMD");
  // large seeds and streams, block counters that carry into their high word,
  // counts that are not a multiple of the kernel's eight blocks
  for (
    const [seed, stream, first, blocks] of [[0, 0, 0, 4096], [7, 3, 1, 1027], [
      2 ** 40 + 3,
      2 ** 33 + 1,
      2 ** 32 - 6,
      13,
    ]]
  ) {
    const philox = new PhiloxBlocks(seed, stream);
    const drawn = kernel.draw(philox.key, philox.stream, first, blocks);
    const reference = samplingNormals(philox, 4 * first, new Float32Array(4 * blocks));
    assert.deepEqual(bitsOf(drawn), bitsOf(reference), `seed ${seed}, stream ${stream}`);
  }
  // and through SamplingNoise, reads that start and end inside blocks
  const noise = new SamplingNoise([9], 4),
    parts = [3, 4097, 6].map((n) => noise.fill(new Float32Array(n)));
  const whole = samplingNormals(new PhiloxBlocks(9, 4), 0, new Float32Array(4106));
  assert.deepEqual(bitsOf(Float32Array.from(parts.flatMap((part) => [...part]))), bitsOf(whole));
});

Deno.test("noise: value j is lane j mod 4 of Philox block ⌊j / 4⌋", () => {
  const blocks = new PhiloxBlocks(11, 2), pair = new Float32Array(2);
  const drawn = samplingNormals(blocks, 0, new Float32Array(12));
  for (let j = 0; j < 12; j += 2) {
    const words = blocks.at(Math.floor(j / 4)), lane = j % 4;
    boxMuller32(words[lane], words[lane + 1], pair, 0);
    assert.deepEqual([drawn[j], drawn[j + 1]], [...pair], `values ${j}, ${j + 1}`);
  }
});

Deno.test("noise: float32 Box–Muller is within 2e-6 of the float64 formula", () => {
  const blocks = new PhiloxBlocks(5, 0), pair = new Float32Array(2);
  let worst = 0;
  for (let block = 0; block < 20000; block++) {
    const words = blocks.at(block);
    for (const lane of [0, 2]) {
      const w1 = words[lane], w2 = words[lane + 1];
      boxMuller32(w1, w2, pair, 0);
      const u = Math.fround((w1 >>> 1) | 1) * 2 ** -31;
      const radius = Math.sqrt(-2 * Math.log(u)), angle = 2 * Math.PI * (w2 >>> 8) / 2 ** 24;
      worst = Math.max(
        worst,
        Math.abs(pair[0] - radius * Math.cos(angle)),
        Math.abs(pair[1] - radius * Math.sin(angle)),
      );
    }
  }
  assert.ok(worst < 2e-6, `largest error ${worst}`);
});

Deno.test("noise: the float64 NormalStream of the same seed agrees within 1e-4", () => {
  const n = 1_000_000;
  const fast = new SamplingNoise([3]).fill(new Float32Array(n));
  const exact = new NormalStream(3).fill(new Float64Array(n));
  let worst = 0, above = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(fast[i] - exact[i]);
    worst = Math.max(worst, d);
    if (d > 1e-6) above++;
  }
  assert.ok(worst < 1e-4, `largest difference ${worst}`);
  assert.ok(above < n / 500, `${above} differences above 1e-6`);
});

Deno.test("noise: standard normal moments and tails", () => {
  const z = new SamplingNoise([1, 2, 3, 4]).fill(new Float32Array(4 * 250_000));
  const { mean, std } = moments(z);
  // Monte-Carlo standard errors: 1e-3 for the mean, 7e-4 for the std
  assert.ok(Math.abs(mean) < 5e-3, `mean ${mean}`);
  assert.ok(Math.abs(std - 1) < 4e-3, `std ${std}`);
  const tail = z.filter((v) => Math.abs(v) > 3).length / z.length;
  assert.ok(Math.abs(tail - 0.0026998) < 5 * Math.sqrt(0.0027 / z.length), `P(|z| > 3) = ${tail}`);
});

Deno.test("noise: a batch equals its images drawn alone, and fills continue each stream", () => {
  const seeds = [3, 1, 4, 1, 5], per = 3 * 7 * 5;
  const noise = new SamplingNoise(seeds);
  const draws = [
    noise.fill(new Float32Array(seeds.length * per)),
    noise.fill(new Float32Array(seeds.length * per)),
  ];
  seeds.forEach((seed, i) => {
    const alone = samplingNormals(new PhiloxBlocks(seed, 0), 0, new Float32Array(2 * per));
    assert.deepEqual(draws[0].subarray(i * per, (i + 1) * per), alone.subarray(0, per));
    assert.deepEqual(draws[1].subarray(i * per, (i + 1) * per), alone.subarray(per));
  });
  assert.throws(() => noise.fill(new Float32Array(7)), /does not split into 5 images/);
  assert.throws(() => new SamplingNoise([]), /at least one seed/);
  assert.throws(() => new SamplingNoise([-1]), /seed must be a non-negative safe integer/);
});
