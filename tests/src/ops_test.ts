import assert from "node:assert/strict";
import { combine2, combine3, gaussianKl, gaussianLogProb, sampleGaussian } from "../../src/ops.ts";
import { klStd, LOG_SQRT_2PI } from "../../src/logprob.ts";
import { localAnchor, sdeStep } from "../../src/anchor.ts";
import { rectifiedFlow } from "../../src/path.ts";
import { BatchNoise, NormalStream } from "../../src/rng.ts";
import { assertClose, moments } from "../_assert.ts";

Deno.test("ops: linear combinations, in place and checked", () => {
  const x = Float32Array.of(1, 2, 3), y = Float32Array.of(4, 5, 6), z = Float32Array.of(1, 1, 1);
  assert.deepEqual(combine2(new Float32Array(3), 2, x, -1, y), Float32Array.of(-2, -1, 0));
  assert.deepEqual(combine3(new Float32Array(3), 1, x, 1, y, 10, z), Float32Array.of(15, 17, 19));
  const alias = Float32Array.from(x);
  combine2(alias, 0.5, alias, 1, y);
  assert.deepEqual(alias, Float32Array.of(4.5, 6, 7.5));
  assert.throws(() => combine2(new Float32Array(2), 1, x, 1, y), /length mismatch: 2 vs 3/);
});

Deno.test("ops: Gaussian sampling uses the seeded stream and the given std", () => {
  const mean = new Float32Array(100_000).fill(2);
  const xs = sampleGaussian(new Float32Array(mean.length), mean, 0.5, new BatchNoise([11]));
  const noise = new NormalStream(11).fill(new Float32Array(mean.length));
  xs.forEach((v, i) => assert.equal(v, Math.fround(2 + 0.5 * noise[i])));
  const { mean: m, std } = moments(xs);
  assertClose(m, 2, 0.01, "mean");
  assertClose(std, 0.5, 0.01, "std");
  assert.throws(() => sampleGaussian(mean, mean, 1, new BatchNoise([1])), /must not alias/);
});

Deno.test("ops: log-prob per sample with named reductions matches the formula", () => {
  const x = Float32Array.of(0.5, -1, 2, 0, 0.25, 1);
  const mean = Float32Array.of(0, 0, 1, 0, 0, 0);
  const std = 0.8;
  const per = (i: number) =>
    -((x[i] - mean[i]) ** 2) / (2 * std * std) - Math.log(std) - LOG_SQRT_2PI;
  const sums = [per(0) + per(1) + per(2), per(3) + per(4) + per(5)];
  const summed = gaussianLogProb(x, mean, std, 2, "sum");
  const averaged = gaussianLogProb(x, mean, std, 2, "mean");
  sums.forEach((s, b) => {
    assertClose(summed[b], s, 1e-12, `sum, sample ${b}`);
    assertClose(averaged[b], s / 3, 1e-12, `mean, sample ${b}`);
  });
  assert.throws(() => gaussianLogProb(x, mean, 0, 2, "mean"), /positive finite std/);
  assert.throws(() => gaussianLogProb(x, mean, 1, 4, "mean"), /cannot split 6 values/);
});

Deno.test("ops: KL with the step std or the noise scale, as named", () => {
  const a = Float32Array.of(1, 2, 3, 4), b = Float32Array.of(1, 1, 3, 3);
  const step = localAnchor(rectifiedFlow, 0.8, 0.4, { delta: 0.04 });
  const byStep = gaussianKl(a, b, klStd(step, "step-std"), 2, "sum");
  const byScale = gaussianKl(a, b, klStd(step, "noise-scale"), 2, "sum");
  assertClose(byStep[0], 1 / (2 * step.std ** 2), 1e-9, "step-std KL");
  assertClose(byStep[0] / byScale[0], 1 / 0.04, 1e-9, "ratio is 1/delta");
  assertClose(gaussianKl(a, b, 1, 2, "mean")[1], 0.25, 1e-12, "mean reduction");
  const sde = sdeStep(rectifiedFlow, 0.5, 0.25);
  assertClose(klStd(sde, "noise-scale") / klStd(sde, "step-std"), 2, 1e-12, "1/sqrt(|dt|)");
  assert.throws(() => klStd({ mean: {}, std: 0, noiseScale: 0 }, "step-std"), /stochastic step/);
});
