/**
 * The numerical checks of docs/math.md §9: on Gaussian data every flow map is
 * exact, so each transition's effect on the marginal is known in closed form
 * (exactly, "analytic") and by simulation through the kernels and seeded noise
 * ("Monte Carlo", tolerances from the sampling error).
 */
import assert from "node:assert/strict";
import {
  ANCHOR_DEFAULTS,
  type AnchorOptions,
  anchorStep,
  endpointAnchor,
  localAnchor,
  naiveIntermediateAnchor,
  resolveAnchor,
  sdeStep,
  twoTimeJump,
} from "../../src/anchor.ts";
import { rectifiedFlow, trigFlow } from "../../src/path.ts";
import { NormalStream } from "../../src/rng.ts";
import { combine2, sampleGaussian } from "../../src/ops.ts";
import { assertClose, moments } from "../_assert.ts";
import { type Affine, applyAffine, combine, compose, GaussianWorld } from "../_gaussian.ts";

const N = 400_000;
const identity: Affine = { scale: 1, shift: 0 };

/** The marginal of `x_s = A(x_t) + std·z` for `x_t ~ p_t`, in closed form. */
function analytic(world: GaussianWorld, t: number, mean: Affine, std: number) {
  const meanOut = mean.scale * world.mu(t) + mean.shift;
  return { mean: meanOut, std: Math.sqrt((mean.scale * world.sd(t)) ** 2 + std * std) };
}

/** Samples `x_t ~ p_t` with seeded noise. */
function sampleMarginal(world: GaussianWorld, t: number, seed: number): Float32Array {
  const x = new NormalStream(seed).fill(new Float32Array(N));
  return applyAffine(x, { scale: world.sd(t), shift: world.mu(t) }, x);
}

/** Asserts simulated moments equal the target marginal within `bias` plus 5 standard errors. */
function assertMarginal(values: Float32Array, world: GaussianWorld, s: number, bias: number) {
  const { mean, std } = moments(values);
  const sd = world.sd(s);
  assertClose(mean, world.mu(s), bias + 5 * sd / Math.sqrt(N), `MC mean at s=${s}`);
  assertClose(std, sd, bias + 5 * sd / Math.sqrt(2 * N), `MC std at s=${s}`);
}

const rfCases = [
  { m: 1.5, s: 0.3, t: 0.8, to: 0.4 }, // the table of docs/math.md §9
  { m: -0.5, s: 1.2, t: 0.9, to: 0.3 },
  { m: 0, s: 0.7, t: 0.5, to: 0.2 },
];
const trigCases = [
  { m: -0.7, s: 1.3, t: 1.4, to: 0.8 },
  { m: 1.5, s: 0.3, t: 1.0, to: 0.5 },
];

function endpointStep(world: GaussianWorld, t: number, s: number, eta: number) {
  const step = endpointAnchor(world.path, t, s, { eta });
  const mean = combine([step.mean.x, identity], [step.mean.x0, world.map(t, 0)]);
  return { step, mean };
}

Deno.test("§9 endpoint anchor, eta = 1, keeps the marginal exactly (RF and TrigFlow)", () => {
  const cases = [
    ...rfCases.map((c) => ({ ...c, path: rectifiedFlow })),
    ...trigCases.map((c) => ({ ...c, path: trigFlow(0.5) })),
    { m: 0.4, s: 0.9, t: 1.2, to: 0.6, path: trigFlow(1) },
  ];
  cases.forEach((c, i) => {
    const world = new GaussianWorld(c.path, c.m, c.s);
    const { step, mean } = endpointStep(world, c.t, c.to, 1);
    const exact = analytic(world, c.t, mean, step.std);
    assertClose(exact.mean, world.mu(c.to), 1e-12, `analytic mean, case ${i}`);
    assertClose(exact.std, world.sd(c.to), 1e-12, `analytic std, case ${i}`);

    const xt = sampleMarginal(world, c.t, 100 + i);
    const x0 = applyAffine(new Float32Array(N), world.map(c.t, 0), xt);
    const mu = combine2(new Float32Array(N), step.mean.x, xt, step.mean.x0, x0);
    const xs = sampleGaussian(new Float32Array(N), mu, step.std, new NormalStream(200 + i));
    assertMarginal(xs, world, c.to, 0);
  });
});

Deno.test("§5.1 endpoint anchor with eta < 1 does not keep the marginal", () => {
  const world = new GaussianWorld(rectifiedFlow, 1.5, 0.3);
  const { step, mean } = endpointStep(world, 0.8, 0.4, 0.5);
  const off = analytic(world, 0.8, mean, step.std).std - world.sd(0.4);
  assert.ok(Math.abs(off) > 1e-3, `eta = 0.5 should bias the std, got ${off}`);
});

function localStep(
  world: GaussianWorld,
  t: number,
  s: number,
  delta: number,
  velocity: "reuse" | "extra-nfe",
) {
  const step = localAnchor(world.path, t, s, { delta, noiseLevel: 0.7, velocity });
  const jump = twoTimeJump(t, s);
  const u = world.average(t, s);
  const y = combine([jump.x, identity], [jump.u, u]);
  const vHat = step.extraNfe ? compose(world.velocity(s), y) : u;
  return { step, mean: combine([step.mean.y, y], [step.mean.velocity, vHat]), y, u, vHat };
}

Deno.test("§9 local anchor: marginal error within the table and vanishing as delta → 0", () => {
  // The table of docs/math.md §9 (measured with the velocity at s, i.e. the extra NFE) bounds
  // case 0; reusing u(x_t, s, t) adds an O(delta) score mismatch, also vanishing.
  const deltas = [0.1, 0.03, 0.01, 0.001];
  const table = { "extra-nfe": [0.004, 0.0005, 0.0004, 1e-5], reuse: [1e-3, 1e-3, 1e-3, 1e-4] };
  rfCases.forEach((c, i) => {
    const world = new GaussianWorld(rectifiedFlow, c.m, c.s);
    for (const velocity of ["reuse", "extra-nfe"] as const) {
      const errors = deltas.map((delta) => {
        const { step, mean } = localStep(world, c.t, c.to, delta, velocity);
        assertClose(analytic(world, c.t, mean, step.std).mean, world.mu(c.to), 1e-12, "mean");
        return Math.abs(analytic(world, c.t, mean, step.std).std - world.sd(c.to));
      });
      const at = `case ${i}, ${velocity}`;
      if (i === 0) {
        errors.forEach((err, k) =>
          assert.ok(err <= table[velocity][k], `${at}, delta ${deltas[k]}: ${err}`)
        );
      }
      // The velocity at s makes the error O(delta²); the reused average velocity O(delta).
      const shrink = velocity === "extra-nfe" ? 1e-3 : 0.1;
      assert.ok(errors[3] <= shrink * Math.max(...errors) && errors[3] < 3e-4, `${at}: ${errors}`);
    }
    const { step, y, vHat, mean } = localStep(world, c.t, c.to, 0.01, "reuse");
    const xt = sampleMarginal(world, c.t, 300 + i);
    const ya = applyAffine(new Float32Array(N), y, xt);
    const va = applyAffine(new Float32Array(N), vHat, xt);
    const mu = combine2(new Float32Array(N), step.mean.y, ya, step.mean.velocity, va);
    const xs = sampleGaussian(new Float32Array(N), mu, step.std, new NormalStream(400 + i));
    const exact = analytic(world, c.t, mean, step.std);
    assertMarginal(xs, world, c.to, Math.abs(exact.std - world.sd(c.to)) + 1e-3);
  });
});

function intermediate(world: GaussianWorld, t: number, s: number, a: number) {
  const step = naiveIntermediateAnchor(world.path, s, a);
  const ya = compose(world.map(s, a), world.map(t, s));
  return { step, ya };
}

Deno.test("§9 naive intermediate anchor shrinks the std; the posterior noise fixes it", () => {
  const expected = [[0.1, -0.054], [0.2, -0.096], [0.3, -0.093]];
  const world = new GaussianWorld(rectifiedFlow, 1.5, 0.3);
  for (const [a, err] of expected) {
    const { step, ya } = intermediate(world, 0.8, 0.4, a);
    const naive = analytic(world, 0.8, combine([step.mean.anchored, ya]), step.std);
    assertClose(naive.std - world.sd(0.4), err, 2e-3, `naive error at a=${a}`);
  }
  const paths = [rectifiedFlow, trigFlow(0.5)];
  paths.forEach((path, i) => {
    const c = path === rectifiedFlow ? rfCases[0] : trigCases[0];
    const world = new GaussianWorld(path, c.m, c.s);
    const a = c.to / 2;
    const { step, ya } = intermediate(world, c.t, c.to, a);
    const posterior = world.noisePosterior(a);
    const mean = combine(
      [step.mean.anchored, ya],
      [step.std, compose(posterior.mean, ya)],
    );
    const exact = analytic(world, c.t, mean, step.std * posterior.std);
    assertClose(exact.std, world.sd(c.to), 1e-12, `posterior-corrected std, ${path.name}`);
    assertClose(exact.mean, world.mu(c.to), 1e-12, `posterior-corrected mean, ${path.name}`);

    const xt = sampleMarginal(world, c.t, 500 + i);
    const yaValues = applyAffine(new Float32Array(N), ya, xt);
    const eMean = applyAffine(new Float32Array(N), posterior.mean, yaValues);
    const e = sampleGaussian(new Float32Array(N), eMean, posterior.std, new NormalStream(600 + i));
    const corrected = combine2(new Float32Array(N), step.mean.anchored, yaValues, step.std, e);
    assertMarginal(corrected, world, c.to, 0);
    const fresh = sampleGaussian(
      new Float32Array(N),
      applyAffine(new Float32Array(N), { scale: step.mean.anchored, shift: 0 }, yaValues),
      step.std,
      new NormalStream(700 + i),
    );
    const shrink = moments(fresh).std - world.sd(c.to);
    assert.ok(shrink < -0.02, `naive MC std should shrink on ${path.name}, off by ${shrink}`);
  });
});

/** Consistency sampler of §4 on TrigFlow: eta = 1 (seeded noise) or 0 (implied noise). */
function consistencyStd(world: GaussianWorld, grid: number[], eta: number): number {
  let state = { mean: 0, variance: world.path.sigma(grid[0]) ** 2 };
  for (let k = 0; k + 1 < grid.length; k++) {
    const step = endpointAnchor(world.path, grid[k], grid[k + 1], { eta });
    const f = world.map(grid[k], 0);
    const scale = step.mean.x + step.mean.x0 * f.scale;
    state = {
      mean: scale * state.mean + step.mean.x0 * f.shift,
      variance: scale * scale * state.variance + step.std ** 2,
    };
  }
  return Math.sqrt(state.variance);
}

Deno.test("§9 one-time maps: seeded-noise sampler keeps std 1.30, implied noise inflates it", () => {
  const world = new GaussianWorld(trigFlow(0.5), -0.7, 1.3);
  const tMax = Math.atan(80 / 0.5);
  const grids = [1, 2, 4].map((k) => Array.from({ length: k + 1 }, (_, i) => tMax * (k - i) / k));
  const seeded = grids.map((g) => consistencyStd(world, g, 1));
  const implied = grids.map((g) => consistencyStd(world, g, 0));
  seeded.forEach((std, i) => assertClose(std, 1.3, 2e-3, `seeded std at grid ${i}`));
  [1.297, 1.669, 1.985].forEach((want, i) => assertClose(implied[i], want, 5e-3, `implied ${i}`));
});

Deno.test("§5.4 Flow-GRPO SDE step: coefficients by hand and the t = 1 rule", () => {
  const step = sdeStep(rectifiedFlow, 0.5, 0.25, { noiseLevel: 0.7 });
  // g = 0.7, dt = −0.25, g²/(2t) = 0.49: mean = x(1 − 0.1225) + v(−0.25 − 0.06125)
  assertClose(step.mean.x, 0.8775, 1e-15, "x coefficient");
  assertClose(step.mean.velocity, -0.31125, 1e-15, "v coefficient");
  assertClose(step.std, 0.35, 1e-15, "std");
  assert.equal(step.noiseScale, 0.7);
  const first = sdeStep(rectifiedFlow, 1, 0.75, { noiseLevel: 0.7, noiseTime: 0.75 });
  assertClose(first.noiseScale, 0.7 * Math.sqrt(1 / 0.25), 1e-15, "g at t = 1");
});

Deno.test("anchor coefficients match hand-computed values", () => {
  assert.deepEqual(twoTimeJump(1, 0.25), { x: 1, u: -0.75 });
  const end = endpointAnchor(rectifiedFlow, 0.8, 0.4);
  assert.deepEqual(end.mean, { x: 0, x0: 0.6 });
  assertClose(end.std, 0.4, 1e-15, "endpoint std");
  const half = endpointAnchor(rectifiedFlow, 0.5, 0.25, { eta: 0.6 });
  // keep = 0.25·0.8 = 0.2; eps_hat = 2x − x0: mean = 0.4x + (0.75 − 0.2)x0; std = 0.15
  assertClose(half.mean.x, 0.4, 1e-15, "eta 0.6 x");
  assertClose(half.mean.x0, 0.55, 1e-15, "eta 0.6 x0");
  assertClose(half.std, 0.15, 1e-15, "eta 0.6 std");
  const local = localAnchor(rectifiedFlow, 0.8, 0.4, { delta: 0.1, noiseLevel: 0.7 });
  // a = 0.5: g = 0.7; pull = 0.49·0.1/2 = 0.0245; score = −(y + 0.6v)/0.4
  assertClose(local.mean.y, 1 - 0.0245 / 0.4, 1e-15, "local y");
  assertClose(local.mean.velocity, -0.0245 * 0.6 / 0.4, 1e-15, "local v");
  assertClose(local.std, 0.7 * Math.sqrt(0.1), 1e-15, "local std");
  assert.equal(local.extraNfe, false);
  const naive = naiveIntermediateAnchor(rectifiedFlow, 0.4, 0.2);
  assertClose(naive.mean.anchored, 0.75, 1e-15, "naive ratio");
  assertClose(naive.std, 0.25, 1e-15, "naive std");
});

Deno.test("degenerate anchors fail loudly", () => {
  const rf = rectifiedFlow;
  assert.throws(() => localAnchor(rf, 0.5, 0, { delta: 0.01 }), /needs s > 0/);
  assert.throws(() => localAnchor(rf, 0.9, 0.95, { delta: 0.01 }), /0 ≤ s < t/);
  assert.throws(() => localAnchor(rf, 1, 0.95, { delta: 0.05 }), /a = s \+ delta = 1 must be < 1/);
  assert.throws(() => localAnchor(rf, 0.5, 0.2, { delta: 0 }), /delta must be a positive/);
  assert.throws(() => localAnchor(trigFlow(0.5), 1, 0.5, { delta: 0.01 }), /rectified-flow/);
  assert.throws(() => sdeStep(rf, 1, 0.5), /t = 1 needs noiseTime/);
  assert.throws(() => sdeStep(rf, 1, 0.5, { noiseTime: 1 }), /noiseTime = 1 is outside/);
  assert.throws(() => endpointAnchor(rf, 0.5, 0.5), /0 ≤ s < t/);
  assert.throws(() => endpointAnchor(rf, 0, 0), /t = 0 is outside/);
  assert.throws(() => endpointAnchor(rf, 0.5, 0.2, { eta: 1.5 }), /eta must lie in \[0, 1\]/);
  assert.throws(() => naiveIntermediateAnchor(rf, 0.4, 0.4), /0 < a < s/);
  assert.throws(() => naiveIntermediateAnchor(rf, 1, 0.4), /s = 1 is outside/);
});

Deno.test("resolveAnchor: the tagged union's defaults, and every setting checked", () => {
  assert.deepEqual(resolveAnchor({ kind: "endpoint" }), {
    kind: "endpoint",
    ...ANCHOR_DEFAULTS.endpoint,
  });
  assert.deepEqual(resolveAnchor({ kind: "local", delta: 0.03 }), {
    kind: "local",
    delta: 0.03,
    noiseLevel: 0.7,
    velocity: "reuse",
  });
  assert.deepEqual(resolveAnchor({ kind: "naive-intermediate" }), {
    kind: "naive-intermediate",
    fraction: 0.5,
  });
  const bad: [unknown, RegExp][] = [
    [{ kind: "endpoint", delta: 0.1 }, /the endpoint anchor takes eta; got delta/],
    [{ kind: "local", eta: 1 }, /the local anchor takes delta, noiseLevel, velocity; got eta/],
    [{ kind: "sde" }, /anchor kind must be "endpoint", "local" or "naive-intermediate"/],
    [{ anchor: "local" }, /anchor kind must be/],
    [{ kind: "endpoint", eta: 0 }, /eta must lie in \(0, 1\]/],
    [{ kind: "local", delta: -1 }, /delta must be a positive finite number/],
    [{ kind: "local", noiseLevel: Number.NaN }, /noise level must be a positive/],
    [{ kind: "local", velocity: "twice" }, /velocity must be "reuse" or "extra-nfe"/],
    [{ kind: "naive-intermediate", fraction: 1 }, /fraction must lie in \(0, 1\)/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => resolveAnchor(options as AnchorOptions), message, JSON.stringify(options));
  }
});

Deno.test("anchorStep: each kind's Gaussian is its anchor function's", () => {
  const rf = rectifiedFlow;
  assert.deepEqual(
    anchorStep(rf, resolveAnchor({ kind: "endpoint" }), 0.8, 0.4),
    endpointAnchor(rf, 0.8, 0.4),
  );
  assert.deepEqual(
    anchorStep(rf, resolveAnchor({ kind: "local", velocity: "extra-nfe" }), 0.8, 0.4),
    localAnchor(rf, 0.8, 0.4, { delta: 0.01, velocity: "extra-nfe" }),
  );
  assert.deepEqual(
    anchorStep(rf, resolveAnchor({ kind: "naive-intermediate", fraction: 0.25 }), 0.8, 0.4),
    naiveIntermediateAnchor(rf, 0.4, 0.1),
  );
});
