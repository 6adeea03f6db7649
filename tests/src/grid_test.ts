import assert from "node:assert/strict";
import {
  angularGrid,
  modelGrid,
  SCM_T_MAX,
  shiftedGrid,
  timeGrid,
  uniformGrid,
  validateGrid,
} from "../../src/grid.ts";
import { rectifiedFlow, trigFlow } from "../../src/path.ts";
import { assertClose } from "../_assert.ts";

Deno.test("grid: uniform, shifted and angular grids match docs/math.md §3", () => {
  assert.deepEqual(uniformGrid(4), [1, 0.75, 0.5, 0.25, 0]);
  assert.deepEqual(uniformGrid(1), [1, 0]);
  assert.deepEqual(shiftedGrid(2, 3), [1, 0.75, 0]);
  assert.deepEqual(shiftedGrid(4, 1), uniformGrid(4));
  // FLUX form e^mu / (e^mu + 1/tau − 1) with m = e^mu gives the same numbers.
  const mu = Math.log(3);
  shiftedGrid(4, 3).forEach((t, k) => {
    const tau = 1 - k / 4;
    const flux = tau === 0 ? 0 : Math.exp(mu) / (Math.exp(mu) + 1 / tau - 1);
    assertClose(t, flux, 1e-15, `shifted point ${k}`);
  });
  assertClose(SCM_T_MAX, 1.56454, 1e-5, "sCM t_max");
  const angular = angularGrid(2);
  assertClose(angular[1], SCM_T_MAX / 2, 1e-15, "angular midpoint");
  assert.equal(angular[2], 0);
  assert.ok(Object.isFrozen(uniformGrid(3)));
});

Deno.test("grid: every generated grid validates on its path", () => {
  for (const k of [1, 2, 3, 4, 8]) {
    validateGrid(uniformGrid(k), rectifiedFlow);
    validateGrid(shiftedGrid(k, 3.5), rectifiedFlow);
    validateGrid(angularGrid(k), trigFlow(0.5));
    validateGrid(angularGrid(k, Math.PI / 2), trigFlow(0.5));
  }
  assert.deepEqual(validateGrid([SCM_T_MAX, 1.3, 0], trigFlow(0.5)), [SCM_T_MAX, 1.3, 0]);
});

Deno.test("grid: invalid grids are rejected saying what is wrong", () => {
  const rf = rectifiedFlow;
  assert.throws(() => validateGrid([], rf), /at least two points/);
  assert.throws(() => validateGrid([1], rf), /at least two points/);
  assert.throws(() => validateGrid([1, 0.5, 0.5, 0], rf), /strictly decreasing: point 2/);
  assert.throws(() => validateGrid([0.5, 1, 0], rf), /strictly decreasing/);
  assert.throws(() => validateGrid([1, Number.NaN, 0], rf), /point 1 is not a finite number/);
  assert.throws(() => validateGrid([1.2, 0.5, 0], rf), /outside the rectified-flow time range/);
  assert.throws(() => validateGrid([1, 0.5, -0.1], rf), /outside/);
  assert.throws(() => validateGrid([1, 0.5], rf), /must end at 0/);
  assert.throws(() => validateGrid([1.6, 0], trigFlow(0.5)), /outside the trigflow/);
  assert.throws(() => uniformGrid(0), /positive integer/);
  assert.throws(() => uniformGrid(2.5), /positive integer/);
  assert.throws(() => shiftedGrid(2, 0.5), /shift factor must be a finite number ≥ 1/);
  assert.throws(() => angularGrid(2, 2), /\(0, π\/2\]/);
});

Deno.test("timeGrid: the one schedule rule over path, steps, shift and explicit grid", () => {
  const trig = trigFlow(0.5);
  assert.deepEqual(timeGrid(rectifiedFlow, { steps: 4 }), uniformGrid(4));
  assert.deepEqual(timeGrid(rectifiedFlow, { steps: 4, shift: 1 }), uniformGrid(4));
  assert.deepEqual(timeGrid(rectifiedFlow, { steps: 3, shift: 3 }), shiftedGrid(3, 3));
  assert.deepEqual(timeGrid(trig, { steps: 3 }), angularGrid(3));
  assert.deepEqual(timeGrid(trig, { steps: 3, shift: 1 }), angularGrid(3));
  assert.deepEqual(timeGrid(trig, { grid: [1.5, 1.3, 0], steps: 2 }), [1.5, 1.3, 0]);
  assert.throws(() => timeGrid(trig, { steps: 2, shift: 3 }), /TrigFlow grids are angular/);
  assert.throws(() => timeGrid(rectifiedFlow, { grid: [1, 0], shift: 3 }), /not to an explicit/);
  assert.throws(() => timeGrid(rectifiedFlow, { grid: [1, 0.5, 0], steps: 3 }), /disagrees/);
  assert.throws(() => timeGrid(rectifiedFlow, {}), /needs steps or an explicit grid/);
  assert.throws(() => timeGrid(rectifiedFlow, { steps: 2, shift: 0.5 }), /≥ 1/);
});

Deno.test("modelGrid: the default grid at the default K, else the model's shift or the caller's", () => {
  const model = { path: rectifiedFlow, shift: 2, defaultGrid: [1, 0.6, 0], defaultSteps: 2 };
  assert.deepEqual(modelGrid(model, {}), [1, 0.6, 0]);
  assert.deepEqual(modelGrid(model, { steps: 2 }), [1, 0.6, 0]);
  assert.deepEqual(modelGrid(model, { steps: 3 }), shiftedGrid(3, 2));
  assert.deepEqual(modelGrid(model, { steps: 2, shift: 1 }), uniformGrid(2));
  assert.deepEqual(modelGrid(model, { shift: 3 }), shiftedGrid(2, 3));
  assert.deepEqual(modelGrid(model, { grid: [1, 0.2, 0] }), [1, 0.2, 0]);
});
