import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { uniformGrid } from "../../../src/grid.ts";
import { rectifiedFlow, rectifiedFlowTime } from "../../../src/path.ts";
import { splitPrompts } from "../../../trainer/data/splits.ts";
import { meanFlowConfig, pathOf, scmConfig } from "../../../trainer/model/config.ts";
import { initParameters } from "../../../trainer/model/parameters.ts";
import { TfFlowMap } from "../../../trainer/model/tfjs.ts";
import {
  encodePrompts,
  meanFlowBatch,
  scmBatch,
  teacherBatch,
} from "../../../trainer/pretrain/batches.ts";
import { decodeCheckpoint, encodeCheckpoint } from "../../../trainer/checkpoint.ts";
import { evalPrompts } from "../../../trainer/pretrain/evaluate.ts";
import { chooseTwoStepGrid, GRID_PROMPTS, MIDPOINTS } from "../../../trainer/pretrain/bundle.ts";
import type { FlowMap } from "../../../src/flowmap.ts";
import { teacherInit, transferWeights } from "../../../trainer/pretrain/stages.ts";
import { train } from "../../../trainer/pretrain/train.ts";
import {
  addChunk,
  guidedVelocity,
  integrateGuided,
  trajectoryChunk,
} from "../../../trainer/pretrain/trajectories.ts";
import { assertClose } from "../../_assert.ts";
import { tinyConfigs } from "../../_model.ts";

const [tinyTwoTime, tinyOneTime] = tinyConfigs;
const D = 3 * 32 * 32;

/** A bank of straight trajectories `x_t = (1 − t)·a + t·b` (constant average velocity `b − a`). */
function straightBank(count: number, steps: number) {
  const grid = uniformGrid(steps);
  const states = new Float32Array(count * grid.length * D);
  const ends: Float32Array[] = [];
  for (let j = 0; j < count; j++) {
    const a = Float32Array.from({ length: D }, (_, i) => Math.sin(i + j));
    const b = Float32Array.from({ length: D }, (_, i) => Math.cos(3 * i - j));
    ends.push(a, b);
    grid.forEach((t, k) => {
      for (let i = 0; i < D; i++) states[(j * grid.length + k) * D + i] = (1 - t) * a[i] + t * b[i];
    });
  }
  const prompts = splitPrompts("train").slice(0, count);
  const seeds = prompts.map((_, i) => i);
  const chunk = trajectoryChunk(states, encodePrompts(prompts), grid, 2, prompts, seeds);
  return { bank: addChunk(undefined, decodeCheckpoint(encodeCheckpoint(chunk))), ends, prompts };
}

Deno.test("pretrain: teacher batches are deterministic RF interpolants with velocity targets", () => {
  const a = teacherBatch(3, 5, 4, 0.5), b = teacherBatch(3, 5, 4, 0.5);
  assert.deepEqual(a.x, b.x);
  assert.deepEqual(a.tokens, b.tokens);
  assert.deepEqual(a.r, a.t);
  for (let i = 0; i < 4; i++) {
    const t = a.t[i];
    assert.ok(t > 0 && t < 1);
    // x_t + (1 − t)·v = eps and x_t − t·v = x0 ∈ [−1, 1]
    for (const j of [0, 100, D - 1]) {
      const x0 = a.x[i * D + j] - t * a.target[i * D + j];
      assert.ok(Math.abs(x0) <= 1 + 1e-5, `x0 = ${x0}`);
    }
  }
  assert.notDeepEqual(teacherBatch(3, 6, 4, 0.5).x, a.x);
});

Deno.test("pretrain: student batches read trajectories exactly (straight paths)", () => {
  const { bank, ends } = straightBank(3, 8);
  const mf = meanFlowBatch(bank, 0, 0, 16);
  for (let i = 0; i < mf.size; i++) {
    const t = mf.t[i], r = mf.r?.[i] as number;
    assert.ok(r <= t && t <= 1 && r >= 0);
    const j = [0, 1, 2].find((k) =>
      Math.abs(mf.x[i * D] - ((1 - t) * ends[2 * k][0] + t * ends[2 * k + 1][0])) < 1e-5
    );
    assert.ok(j !== undefined, "input is a state of one of the trajectories");
    for (const p of [0, 7, D - 1]) {
      assertClose(
        mf.target[i * D + p],
        ends[2 * j + 1][p] - ends[2 * j][p],
        1e-4,
        "average velocity",
      );
    }
  }
  const scm = scmBatch(bank, scmConfig, 0, 0, 16);
  for (let i = 0; i < scm.size; i++) {
    const { tau, scale } = rectifiedFlowTime(pathOf(scmConfig), scm.t[i]);
    const j = [0, 1, 2].find((k) => Math.abs(scm.target[i * D] - ends[2 * k][0]) < 1e-6);
    assert.ok(j !== undefined, "target is a trajectory end");
    const expected = scale * ((1 - tau) * ends[2 * j][5] + tau * ends[2 * j + 1][5]);
    assertClose(scm.x[i * D + 5], expected, 1e-4, "TrigFlow state");
  }
});

Deno.test("pretrain: training a tiny model lowers the loss; a resumed run equals the straight one", async () => {
  const root = await Deno.makeTempDir();
  const batch = teacherBatch(0, 0, 4, 0.1);
  const run = (dir: string, maxSteps: number, resume: boolean) =>
    train({
      name: "tiny",
      dir,
      config: tinyTwoTime,
      init: initParameters(tinyTwoTime, 0),
      batch: () => batch,
      lr: 3e-3,
      warmup: 4,
      emaDecay: 0.9,
      maxSteps,
      minutes: 10,
      resume,
      log: () => {},
    });
  try {
    const straight = `${root}/straight`, split = `${root}/split`;
    await Deno.mkdir(straight);
    await Deno.mkdir(split);
    const whole = await run(straight, 14, false);
    const losses = (await Deno.readTextFile(`${straight}/tiny.jsonl`)).trim().split("\n")
      .map((line) => JSON.parse(line).loss as number);
    assert.equal(losses.length, 14);
    assert.ok(losses[13] < 0.8 * losses[0], `loss ${losses[0]} → ${losses[13]}`);
    assert.equal(whole.steps, 14);
    const first = await run(split, 9, false);
    assert.equal(first.steps, 9);
    const resumed = await run(split, 14, true);
    assert.equal(resumed.steps, 14);
    assert.ok(resumed.seconds > first.seconds);
    for (const [name, value] of whole.ema) {
      assert.deepEqual(resumed.ema.get(name)?.data, value.data, `EMA ${name} after resume`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("pretrain: guided velocity and Euler integration follow their definitions", () => {
  const model = new TfFlowMap(tinyTwoTime, initParameters(tinyTwoTime, 3));
  for (const v of model.variables.values()) {
    v.assign(tf.randomNormal(v.shape, 0, 0.2, "float32", 1));
  }
  const x = Float32Array.from({ length: 2 * D }, (_, i) => Math.sin(i));
  const tokens = encodePrompts(["a red circle", "two blue squares"]);
  const none = new Int32Array(tokens.length);
  const conditional = guidedVelocity(model, x, 0.6, tokens, 1);
  const unconditional = guidedVelocity(model, x, 0.6, none, 1);
  const guided = guidedVelocity(model, x, 0.6, tokens, 3);
  for (const i of [0, 5, D + 9]) {
    const expected = unconditional[i] + 3 * (conditional[i] - unconditional[i]);
    assertClose(guided[i], expected, 1e-4, "v_u + w·(v_c − v_u)");
  }
  const oneStep = integrateGuided(model, x, tokens, 1, [1, 0]);
  const v1 = guidedVelocity(model, x, 1, tokens, 1);
  assertClose(oneStep[7], x[7] - v1[7], 1e-5, "x − (1 − 0)·v");
  model.dispose();
});

Deno.test("pretrain: students start from the teacher where shapes agree", () => {
  const teacher = initParameters(tinyTwoTime, 1), fallback = initParameters(tinyOneTime, 2);
  const student = transferWeights(tinyOneTime, teacher, fallback);
  assert.equal(student.get("proj_out.weight"), teacher.get("proj_out.weight"));
  assert.ok(!student.has("time_text_embed.interval_embedder.linear_1.weight"));
  assert.equal(student.size, fallback.size);
});

Deno.test("pretrain: the evaluation subset is fixed and held out", () => {
  const a = evalPrompts(32, 5), b = evalPrompts(32, 5);
  assert.deepEqual(a, b);
  const held = new Set(splitPrompts("eval"));
  assert.ok(a.every((p) => held.has(p)));
  assert.equal(new Set(a).size, 32);
});

Deno.test("pretrain: the teacher starts with a 2-D sine-cosine position table", () => {
  const table = teacherInit(tinyTwoTime, 0);
  const pos = table.get("pos_embed");
  assert.ok(pos !== undefined);
  const [tokens, d] = pos.shape;
  const grid = tinyTwoTime.imageSize / tinyTwoTime.patchSize;
  assert.equal(tokens, grid * grid);
  const row = (k: number) => Array.from(pos.data.subarray(k * d, (k + 1) * d));
  assert.ok(pos.data.every((v) => Math.abs(v) <= 1));
  assert.deepEqual(row(0).slice(d / 4, d / 2), new Array(d / 4).fill(1)); // cos(0)
  assert.notDeepEqual(row(1), row(grid)); // (row 0, col 1) differs from (row 1, col 0)
  assert.deepEqual(
    table.get("proj_out.weight"),
    initParameters(tinyTwoTime, 0).get("proj_out.weight"),
  );
});

Deno.test("pretrain: the default two-step grid is swept on training prompts only", async () => {
  const heldOut = new Set(
    [...splitPrompts("eval")].map((p) => encodePrompts([p]).join()),
  );
  const seen: string[] = [];
  const gray: FlowMap<Int32Array> = {
    kind: "two-time",
    path: rectifiedFlow,
    average: (x, _r, _t, cond) => {
      const length = cond!.length / x.shape[0];
      for (let i = 0; i < x.shape[0]; i++) {
        seen.push(cond!.subarray(i * length, (i + 1) * length).join());
      }
      return Promise.resolve(x.data.slice()); // x − t·u = 0: every image mid-gray
    },
  };
  const { grid, sweep } = await chooseTwoStepGrid(gray, meanFlowConfig, 0);
  assert.deepEqual(sweep.map((row) => row.grid), MIDPOINTS.map((f) => [1, f, 0]));
  assert.ok(sweep.every((row) => row.count === GRID_PROMPTS && row.strict === 0));
  assert.deepEqual(grid, [1, MIDPOINTS[0], 0], "ties keep the first midpoint");
  assert.equal(seen.length, 2 * GRID_PROMPTS * MIDPOINTS.length);
  assert.ok(seen.every((tokens) => !heldOut.has(tokens)), "a held-out prompt was sampled");
});
