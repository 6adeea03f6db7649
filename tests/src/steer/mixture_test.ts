import assert from "node:assert/strict";
import { posteriorSamples } from "../../../src/steer/posterior.ts";
import { sampleSteered, tiltShift } from "../../../src/steer/steered.ts";
import { sampleBestOfN } from "../../../src/steer/best_of_n.ts";
import { SamplingNoise } from "../../../src/noise.ts";
import type { Tensor } from "../../../src/flowmap.ts";
import {
  maxError,
  MIXTURE,
  mixtureFlowMap,
  modeFractions,
  modeWeights,
  observationReward,
  tiltedModeWeights,
} from "../../_mixture.ts";

const map = mixtureFlowMap();
const FINE = Array.from({ length: 19 }, (_, i) => 0.95 - 0.05 * i);

Deno.test("inner rollouts sample p(x0 | x_t) of the mixture: mode weights within 0.05", async () => {
  for (const [t, x, y] of [[1, 0.3, -0.2], [0.8, 0.2, 0.5], [0.6, 0, 0.3], [0.4, -0.3, 0.4]]) {
    const exact = modeWeights(MIXTURE, x, y, t);
    const { x0, nfe } = await posteriorSamples(
      map,
      { data: Float32Array.of(x, y), shape: [1, 2] },
      t,
      {
        particles: 2000,
        inner: { fractions: FINE },
        noise: new SamplingNoise([11], 3),
      },
    );
    assert.equal(nfe, 1 + 2000 * FINE.length);
    const error = maxError(exact, modeFractions(MIXTURE, x0.data));
    assert.ok(error <= 0.05, `t = ${t}, x_t = (${x}, ${y}): mode-weight error ${error}`);
  }
});

Deno.test("a coarse inner schedule is only approximate (t → t/2 → 0 misses by > 0.1)", async () => {
  const [t, x, y] = [0.4, -0.3, 0.4];
  const { x0 } = await posteriorSamples(map, { data: Float32Array.of(x, y), shape: [1, 2] }, t, {
    particles: 2000,
    noise: new SamplingNoise([11], 3),
  });
  assert.ok(maxError(modeWeights(MIXTURE, x, y, t), modeFractions(MIXTURE, x0.data)) > 0.1);
});

const Y_OBS = 1, LAMBDA = 1;
const reward = observationReward(Y_OBS);
const score = (x0: Tensor) => Promise.resolve(Float64Array.from(reward(x0.data)));

Deno.test("posterior steering approaches the tilted mixture as M grows; best-of-N does not", async () => {
  const target = tiltedModeWeights(MIXTURE, Y_OBS, LAMBDA);
  const errors: number[] = [];
  for (const particles of [4, 16, 64]) {
    const { x, nfe, rewardCalls } = await sampleSteered(map, {
      shape: [800, 2],
      seed: 0,
      grid: 8,
      particles,
      strength: LAMBDA,
      inner: { fractions: FINE.filter((_, i) => i % 2 === 1) },
      score,
    });
    assert.equal(nfe, 8 * (2 + particles * 9));
    assert.equal(rewardCalls, 8 * particles);
    errors.push(maxError(modeFractions(MIXTURE, x.data), target));
  }
  assert.ok(errors[0] > errors[1] && errors[1] > errors[2], `errors ${errors}`);
  assert.ok(errors[2] <= 0.05, `error at M = 64: ${errors[2]}`);
  const plain = await sampleBestOfN(map, {
    shape: [800, 2],
    seed: 0,
    grid: 8,
    particles: 1,
    score,
  });
  const best = await sampleBestOfN(map, {
    shape: [800, 2],
    seed: 0,
    grid: 8,
    particles: 64,
    score,
  });
  assert.equal(best.nfe, 64 * 8);
  const untilted = maxError(modeFractions(MIXTURE, plain.x.data), target);
  const bestError = maxError(modeFractions(MIXTURE, best.x.data), target);
  assert.ok(bestError > 0.2 && bestError > untilted / 2, `best-of-64 error ${bestError}`);
});

Deno.test("strength 0 steers nothing: the result equals the plain deterministic sampler's", async () => {
  const { x } = await sampleSteered(map, {
    shape: [3, 2],
    seed: 5,
    grid: 4,
    particles: 4,
    strength: 0,
    score,
  });
  const plain = await sampleBestOfN(map, { shape: [3, 2], seed: 5, grid: 4, particles: 1, score });
  for (let i = 0; i < x.data.length; i++) assert.ok(Math.abs(x.data[i] - plain.x.data[i]) < 1e-6);
});

Deno.test("tiltShift: softmax weights minus the mean, per image", () => {
  // image 0: rewards 0 and ln 3 at lambda 1 → weights 1/4, 3/4 of particles 0 and 4
  const shift = tiltShift(
    Float32Array.of(0, 4, 1, 1),
    Float64Array.of(0, Math.log(3), 5, -5),
    2,
    2,
    1,
    1,
  );
  assert.ok(Math.abs(shift[0] - (3 - 2)) < 1e-6);
  assert.ok(Math.abs(shift[1]) < 1e-12);
});

Deno.test("steered samples are batch-invariant and deterministic", async () => {
  const options = { grid: 3, particles: 5, strength: 2, score } as const;
  const batch = await sampleSteered(map, { ...options, shape: [3, 2], seed: [4, 9, 2] });
  const alone = await sampleSteered(map, { ...options, shape: [1, 2], seed: [9] });
  assert.deepEqual(batch.x.data.slice(2, 4), alone.x.data);
  const again = await sampleSteered(map, { ...options, shape: [3, 2], seed: [4, 9, 2] });
  assert.deepEqual(again.x.data, batch.x.data);
});
