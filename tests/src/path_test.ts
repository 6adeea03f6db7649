import assert from "node:assert/strict";
import {
  checkTime,
  endpointFromVelocity,
  noiseFromEndpoint,
  noiseFromVelocity,
  type ProbabilityPath,
  rectifiedFlow,
  rectifiedFlowTime,
  scoreFromEndpoint,
  scoreFromVelocity,
  trigFlow,
  velocityFromEndpoint,
} from "../../src/path.ts";
import { assertClose } from "../_assert.ts";

const paths: ProbabilityPath[] = [rectifiedFlow, trigFlow(0.5), trigFlow(1)];

Deno.test("path: coefficients match docs/math.md §1 at hand-computed points", () => {
  assert.deepEqual(rectifiedFlow.alpha(0.25), 0.75);
  assert.deepEqual(endpointFromVelocity(rectifiedFlow, 0.4), { x: 1, v: -0.4 });
  assertClose(noiseFromVelocity(rectifiedFlow, 0.4).v, 0.6, 1e-15, "eps_hat v-coefficient");
  assert.deepEqual(scoreFromVelocity(rectifiedFlow, 0.5), { x: -2, v: -1 });
  const trig = trigFlow(0.5);
  assertClose(trig.sigma(Math.PI / 2), 0.5, 1e-15, "sigma(π/2)");
  assertClose(trig.alpha(Math.PI / 2), 0, 1e-15, "alpha(π/2)");
  // TrigFlow: x0 = (sigma'·x − sigma·v) / sigma_d = cos t·x − sin t·v
  const t = 0.7;
  const e = endpointFromVelocity(trig, t);
  assertClose(e.x, Math.cos(t), 1e-15, "trig x0 x-coefficient");
  assertClose(e.v, -Math.sin(t), 1e-15, "trig x0 v-coefficient");
});

Deno.test("path: conversions are consistent on a known (x0, eps) pair", () => {
  for (const path of paths) {
    for (const t of [0.05, 0.3, 0.5 * path.tMax, 0.9 * path.tMax, path.tMax]) {
      const x0 = 1.7, eps = -0.45;
      const x = path.alpha(t) * x0 + path.sigma(t) * eps;
      const v = path.dAlpha(t) * x0 + path.dSigma(t) * eps; // the conditional velocity
      const at = `${path.name}(${path.sigmaD}) t=${t}`;
      const e = endpointFromVelocity(path, t);
      assertClose(e.x * x + e.v * v, x0, 1e-12, `x0 from v, ${at}`);
      const n = noiseFromVelocity(path, t);
      assertClose(n.x * x + n.v * v, eps, 1e-12, `eps from v, ${at}`);
      const ne = noiseFromEndpoint(path, t);
      assertClose(ne.x * x + ne.x0 * x0, eps, 1e-12, `eps from x0, ${at}`);
      const ve = velocityFromEndpoint(path, t);
      assertClose(ve.x * x + ve.x0 * x0, v, 1e-12, `v from x0, ${at}`);
      const sv = scoreFromVelocity(path, t), se = scoreFromEndpoint(path, t);
      const score = -eps / path.sigma(t);
      assertClose(sv.x * x + sv.v * v, score, 1e-11, `score from v, ${at}`);
      assertClose(se.x * x + se.x0 * x0, score, 1e-11, `score from x0, ${at}`);
    }
  }
});

Deno.test("path: derivatives match finite differences", () => {
  for (const path of paths) {
    for (const t of [0.1, 0.5, 0.9]) {
      const h = 1e-6;
      const dA = (path.alpha(t + h) - path.alpha(t - h)) / (2 * h);
      const dS = (path.sigma(t + h) - path.sigma(t - h)) / (2 * h);
      assertClose(path.dAlpha(t), dA, 1e-8, `${path.name} alpha'(${t})`);
      assertClose(path.dSigma(t), dS, 1e-8, `${path.name} sigma'(${t})`);
    }
  }
});

Deno.test("path: bad times and sigma_d are rejected with a message", () => {
  assert.throws(() => trigFlow(0), /sigmaD must be a positive/);
  assert.throws(() => trigFlow(Number.NaN), /sigmaD/);
  assert.throws(() => endpointFromVelocity(rectifiedFlow, 1.5), /outside the rectified-flow/);
  assert.throws(() => scoreFromVelocity(rectifiedFlow, 0), /\(0, 1\]/);
  assert.throws(() => noiseFromEndpoint(trigFlow(0.5), 0), /outside the trigflow/);
  assert.throws(() => checkTime(rectifiedFlow, 1, "a", { noise: true }), /\[0, 1\)/);
  assert.equal(checkTime(rectifiedFlow, 1, "t"), 1);
});

Deno.test("path: rectifiedFlowTime maps TrigFlow states onto rectified-flow states", () => {
  const trig = trigFlow(0.5);
  const x0 = 0.8, eps = -1.3;
  for (const t of [0, 0.3, 0.9, 1.4, Math.PI / 2]) {
    const { tau, scale } = rectifiedFlowTime(trig, t);
    const rf = rectifiedFlow.alpha(tau) * x0 + rectifiedFlow.sigma(tau) * eps;
    const tf = trig.alpha(t) * x0 + trig.sigma(t) * eps;
    assertClose(scale * rf, tf, 1e-12, `state at t = ${t}`);
    assertClose(tau, 0.5 * Math.sin(t) / (Math.cos(t) + 0.5 * Math.sin(t)), 1e-12, "tau");
  }
  assert.deepEqual(rectifiedFlowTime(rectifiedFlow, 0.25), { tau: 0.25, scale: 1 });
  assert.throws(() => rectifiedFlowTime(trig, 2), RangeError);
});
