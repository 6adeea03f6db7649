/**
 * Samplers against the exact flow maps of Gaussian data (docs/math.md §9):
 * the exact map must reproduce the exact marginals at every K.
 */
import assert from "node:assert/strict";
import {
  type OneTimeFlowMap,
  rectifiedFlow,
  sample,
  type Tensor,
  trigFlow,
  type TwoTimeFlowMap,
} from "../../mod.ts";
import { SCM_T_MAX, shiftedGrid } from "../../src/grid.ts";
import type { ProbabilityPath } from "../../src/path.ts";
import { assertClose, moments } from "../_assert.ts";
import { applyAffine, GaussianWorld } from "../_gaussian.ts";

const SHAPE = [8, 25_000]; // 200k values: 5 standard errors ≈ 0.011·sd on the std

function twoTime(world: GaussianWorld): TwoTimeFlowMap {
  return {
    kind: "two-time",
    path: world.path,
    average: (x: Tensor, r: number, t: number) =>
      Promise.resolve(
        applyAffine(
          new Float32Array(x.data.length),
          r === t ? world.velocity(t) : world.average(t, r),
          x.data,
        ),
      ),
  };
}

function oneTime(world: GaussianWorld): OneTimeFlowMap {
  return {
    kind: "one-time",
    path: world.path,
    endpoint: (x: Tensor, t: number) =>
      Promise.resolve(applyAffine(new Float32Array(x.data.length), world.map(t, 0), x.data)),
  };
}

function assertData(data: Float32Array, world: GaussianWorld, bias: number, what: string) {
  const { mean, std } = moments(data);
  const n = data.length;
  assertClose(mean, world.m, bias + 5 * world.s / Math.sqrt(n), `${what}: mean`);
  assertClose(std, world.s, bias + 5 * world.s / Math.sqrt(2 * n), `${what}: std`);
}

const rfWorld = new GaussianWorld(rectifiedFlow, 1.5, 0.3);
const trigWorld = new GaussianWorld(trigFlow(0.5), -0.7, 1.3);

Deno.test("sampler: exact two-time map gives exact marginals at every K", async () => {
  for (const k of [1, 2, 3, 4, 8]) {
    const out = await sample(twoTime(rfWorld), { shape: SHAPE, seed: 10 * k, grid: k });
    assertData(out.data, rfWorld, 0, `two-time K=${k}`);
    assert.deepEqual(out.shape, SHAPE);
  }
  const shifted = await sample(twoTime(rfWorld), {
    shape: SHAPE,
    seed: 1,
    grid: shiftedGrid(3, 3),
  });
  assertData(shifted.data, rfWorld, 0, "two-time shifted grid");
});

Deno.test("sampler: exact one-time map gives exact marginals at every K (seeded re-noising)", async () => {
  // Starting from sigma(t_max)·eps drops alpha(t_max)·x0: a ~0.01 mean bias (docs/math.md §9).
  for (const k of [1, 2, 4]) {
    const out = await sample(oneTime(trigWorld), { shape: SHAPE, seed: 5 + k, grid: k });
    assertData(out.data, trigWorld, 0.012, `one-time K=${k}`);
  }
  const explicit = await sample(oneTime(trigWorld), {
    shape: SHAPE,
    seed: 3,
    grid: [SCM_T_MAX, 1.3, 0],
  });
  assertData(explicit.data, trigWorld, 0.012, "one-time [t_max, 1.3, 0]");
});

Deno.test("sampler: implied-noise re-noising inflates the one-time std, as docs/math.md §9 says", async () => {
  const stds = [];
  for (const k of [2, 4]) {
    const out = await sample(oneTime(trigWorld), {
      shape: SHAPE,
      seed: 9,
      grid: k,
      renoise: "implied",
    });
    stds.push(moments(out.data).std);
  }
  assertClose(stds[0], 1.669, 0.02, "implied K=2 std");
  assertClose(stds[1], 1.985, 0.02, "implied K=4 std");
});

Deno.test("sampler: ASFMC stochastic sampling keeps the marginals", async () => {
  const endpoint = await sample(twoTime(rfWorld), {
    shape: SHAPE,
    seed: 21,
    grid: 4,
    stochastic: { kind: "endpoint" },
  });
  assertData(endpoint.data, rfWorld, 0, "two-time endpoint anchor");
  for (const velocity of ["reuse", "extra-nfe"] as const) {
    const local = await sample(twoTime(rfWorld), {
      shape: SHAPE,
      seed: 22,
      grid: 4,
      stochastic: { kind: "local", delta: 0.01, velocity },
    });
    assertData(local.data, rfWorld, 0.002, `two-time local anchor (${velocity})`);
  }
  const scm = await sample(oneTime(trigWorld), {
    shape: SHAPE,
    seed: 23,
    grid: 3,
    stochastic: { kind: "endpoint", eta: 1 },
  });
  assertData(scm.data, trigWorld, 0.012, "one-time endpoint anchor");
});

Deno.test("sampler: reproducible, and image i of a batch equals its seed alone", async () => {
  const shape = [4, 3, 8, 8];
  for (const stochastic of [undefined, { kind: "local" as const }]) {
    const batch = await sample(twoTime(rfWorld), { shape, seed: 100, grid: 3, stochastic });
    const again = await sample(twoTime(rfWorld), { shape, seed: 100, grid: 3, stochastic });
    assert.deepEqual(batch.data, again.data);
    for (let i = 0; i < 4; i++) {
      const alone = await sample(twoTime(rfWorld), {
        shape: [1, 3, 8, 8],
        seed: [100 + i],
        grid: 3,
        stochastic,
      });
      assert.deepEqual(alone.data, batch.data.subarray(i * 192, (i + 1) * 192));
    }
  }
  const scm = await sample(oneTime(trigWorld), { shape, seed: [5, 6, 7, 8], grid: 4 });
  const third = await sample(oneTime(trigWorld), { shape: [1, 3, 8, 8], seed: 7, grid: 4 });
  assert.deepEqual(third.data, scm.data.subarray(2 * 192, 3 * 192));
});

Deno.test("sampler: bad shapes, seeds, grids, maps and options are refused clearly", async () => {
  const map = twoTime(rfWorld);
  const ok = { shape: [1, 4], seed: 1, grid: 2 };
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ shape: [0, 4] }, /shape must list positive integers/],
    [{ shape: [4] }, /batch first/],
    [{ seed: -1 }, /seed must be a non-negative safe integer/],
    [{ seed: [1, 2] }, /one per image \(1\)/],
    [{ grid: 0 }, /steps must be a positive integer/],
    [{ grid: [1, 0.5] }, /must end at 0/],
    [{ grid: [0.5, 1, 0] }, /strictly decreasing/],
    [{ renoise: "implied" }, /deterministic one-time sampling only/],
  ];
  for (const [patch, message] of bad) {
    await assert.rejects(sample(map, { ...ok, ...patch } as typeof ok), message);
  }
  await assert.rejects(
    sample(oneTime(trigWorld), { ...ok, stochastic: { kind: "local" } }),
    /local anchor needs a two-time flow map/,
  );
  const broken: TwoTimeFlowMap = {
    kind: "two-time",
    path: rectifiedFlow,
    average: () => Promise.resolve(new Float32Array(3)),
  };
  await assert.rejects(sample(broken, ok), /must return a Float32Array of 4 values, got 3/);
  const nan: OneTimeFlowMap = {
    kind: "one-time",
    path: trigFlow(0.5) as ProbabilityPath,
    endpoint: (x) => Promise.resolve(new Float32Array(x.data.length).fill(Number.NaN)),
  };
  await assert.rejects(sample(nan, ok), /non-finite value at index 0/);
});
