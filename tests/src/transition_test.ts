/**
 * The transition engine: the sampler's steps are its transitions, each
 * `next = mean + std·z` with `z` the seeded stream's next draw (none when
 * `std = 0`, always so on the final step), and the flow-map steps give the
 * Gaussians of docs/math.md §4–5 on exact Gaussian-data maps.
 */
import assert from "node:assert/strict";
import {
  naiveIntermediateAnchor,
  rectifiedFlow,
  sample,
  sampleSteps,
  SamplingNoise,
  type Tensor,
  transitions,
  trigFlow,
  type TwoTimeFlowMap,
  uniformGrid,
} from "../../mod.ts";
import { flowMapStep, nextState } from "../../src/transition.ts";
import type { OneTimeFlowMap } from "../../src/flowmap.ts";
import { applyAffine, GaussianWorld } from "../_gaussian.ts";

const world = new GaussianWorld(rectifiedFlow, 1.5, 0.3);

const exact: TwoTimeFlowMap = {
  kind: "two-time",
  path: rectifiedFlow,
  average: (x: Tensor, r: number, t: number) =>
    Promise.resolve(
      applyAffine(
        new Float32Array(x.data.length),
        r === t ? world.velocity(t) : world.average(t, r),
        x.data,
      ),
    ),
};

Deno.test("sampleSteps: the sampler's transitions, each the stream's next draw around its mean", async () => {
  const shape = [2, 16], seeds = [4, 5];
  for (const kind of ["endpoint", "local", "naive-intermediate"] as const) {
    const options = { shape, seed: seeds, grid: 4, stochastic: { kind } };
    const steps = [];
    for await (const step of sampleSteps(exact, options)) steps.push(step);
    assert.deepEqual(steps.map((s) => [s.k, s.t, s.s]), [
      [0, 1, 0.75],
      [1, 0.75, 0.5],
      [2, 0.5, 0.25],
      [3, 0.25, 0],
    ]);
    const replay = new SamplingNoise(seeds);
    assert.deepEqual(steps[0].x, replay.fill(new Float32Array(32)), "x_0 = sigma(1)·eps");
    for (const [k, step] of steps.entries()) {
      if (k > 0) assert.equal(step.x, steps[k - 1].next, "x_k is the last step's next");
      if (k === steps.length - 1) {
        assert.equal(step.std, 0, "the final step is deterministic");
        assert.equal(step.next, step.mean);
        continue;
      }
      assert.ok(step.std > 0, `${kind} step ${k} is stochastic`);
      const z = replay.fill(new Float32Array(32));
      assert.deepEqual(step.next, step.mean.map((m, i) => m + step.std * z[i]), `${kind} ${k}`);
    }
    const drawn = await sample(exact, options);
    assert.deepEqual(drawn.data, steps[3].next, "sample() drains sampleSteps");
  }
});

Deno.test("transitions: startNoise replaces the first draw and keeps every later one in place", async () => {
  const grid = uniformGrid(2), size = 6;
  const rule = (_k: number, x: Float32Array) =>
    Promise.resolve({ mean: x.map((v) => v / 2), std: 0.5 });
  const run = async (startNoise?: Float32Array) => {
    const noise = new SamplingNoise([9]);
    const steps = [];
    for await (
      const step of transitions(rule, { grid, path: trigFlow(0.5), noise, size, startNoise })
    ) {
      steps.push(step);
    }
    return steps;
  };
  const plain = await run();
  const start = Float32Array.from({ length: size }, (_, i) => i);
  const started = await run(start);
  assert.deepEqual(started[0].x, start.map((v) => v * trigFlow(0.5).sigma(1)));
  const replay = new SamplingNoise([9]);
  replay.fill(new Float32Array(size)); // the start's draw, made either way
  for (const k of [0, 1]) {
    const z = replay.fill(new Float32Array(size));
    assert.deepEqual(started[k].next, started[k].mean.map((m, i) => m + 0.5 * z[i]), `step ${k}`);
    assert.deepEqual(plain[k].next, plain[k].mean.map((m, i) => m + 0.5 * z[i]), `step ${k}`);
  }
  await assert.rejects(run(new Float32Array(3)), /startNoise holds 3 values, the batch 6/);
});

Deno.test("nextState: no draw when std = 0", () => {
  const noise = new SamplingNoise([1]);
  const mean = new Float32Array(4);
  assert.equal(nextState(mean, 0, noise), mean);
  assert.deepEqual(nextState(mean, 1, noise), new SamplingNoise([1]).fill(new Float32Array(4)));
});

Deno.test("flowMapStep: the naive anchor is (alpha(s)/alpha(a))·X(s → a)(X(t → s)(x))", async () => {
  const x = { data: Float32Array.of(-1, 0, 2, 0.5), shape: [1, 4] };
  const t = 0.8, s = 0.4, a = 0.1;
  const { mean, std } = await flowMapStep(
    exact,
    { kind: "naive-intermediate", fraction: 0.25 },
    x,
    t,
    s,
  );
  const step = naiveIntermediateAnchor(rectifiedFlow, s, a);
  assert.equal(std, step.std);
  const y = applyAffine(new Float32Array(4), world.map(t, s), x.data);
  const ya = applyAffine(new Float32Array(4), world.map(s, a), y);
  ya.forEach((v, i) => assert.ok(Math.abs(mean[i] - step.mean.anchored * v) < 1e-5, `value ${i}`));
  const oneTime: OneTimeFlowMap = {
    kind: "one-time",
    path: rectifiedFlow,
    endpoint: (z) => Promise.resolve(z.data.slice()),
  };
  await assert.rejects(
    flowMapStep(
      oneTime,
      { kind: "local", delta: 0.01, noiseLevel: 0.7, velocity: "reuse" },
      x,
      t,
      s,
    ),
    /the local step needs a two-time flow map/,
  );
});
