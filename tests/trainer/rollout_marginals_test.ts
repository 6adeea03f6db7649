/**
 * Every shipped training config's rollout keeps the model's marginals: on
 * Gaussian data, where every flow map is exact and affine (docs/math.md §9),
 * each state `x_k` of the config's own rollout (its grid, its anchor) is
 * Gaussian with a closed-form mean and variance, and its second moment must lie
 * within 2 % of the path's marginal at `t_k`.
 */

import assert from "node:assert/strict";
import { pathOf } from "../../trainer/model/config.ts";
import { loadTrainConfig } from "../../trainer/config.ts";
import { anchorStep } from "../../src/anchor.ts";
import { rolloutGrid } from "../../trainer/policy.ts";
import { loadBaseModel } from "../../trainer/setup.ts";
import { type Affine, combine, compose, GaussianWorld } from "../_gaussian.ts";

const CONFIGS = [...Deno.readDirSync("trainer/configs")]
  .filter((entry) => entry.name.endsWith(".json"))
  .map((entry) => `trainer/configs/${entry.name}`)
  .sort();

/** Per-element data statistics around those of the shapes world (mostly background at −1). */
const DATA = [
  { m: -0.8, s: 0.4 },
  { m: 0, s: 0.5 },
  { m: 0.3, s: 1 },
];

const IDENTITY: Affine = { scale: 1, shift: 0 };

Deno.test("rollouts: every shipped config keeps each state's second moment within 2 %", async () => {
  assert.ok(CONFIGS.length >= 4, "the shipped configs are found");
  for (const file of CONFIGS) {
    const config = await loadTrainConfig(file);
    const base = await loadBaseModel(config.model);
    const path = pathOf(base.config);
    const grid = rolloutGrid(base.info, config.rollout);
    const anchor = config.rollout.anchor;
    for (const { m, s } of DATA) {
      const world = new GaussianWorld(path, m, s);
      // the samplers start from sigma(t_0)·eps (docs/math.md §4)
      let mean = 0, variance = path.sigma(grid[0]) ** 2;
      for (let k = 0; k < config.rollout.stochasticSteps; k++) {
        const t = grid[k], to = grid[k + 1];
        const step = anchorStep(path, anchor, t, to);
        const f = meanMap(
          world,
          anchor.kind,
          step.mean,
          t,
          to,
          "extraNfe" in step && !!step.extraNfe,
        );
        mean = f.scale * mean + f.shift;
        variance = f.scale ** 2 * variance + step.std ** 2;
        const got = mean * mean + variance;
        const want = world.mu(to) ** 2 + world.sd(to) ** 2;
        assert.ok(
          Math.abs(got / want - 1) <= 0.02,
          `${file}, data N(${m}, ${s}²), step ${k} (t = ${t.toFixed(3)} → ${to.toFixed(3)}): ` +
            `E[x²] = ${got.toFixed(4)}, the path's ${want.toFixed(4)}`,
        );
      }
    }
  }
});

/** The transition's mean as an affine function of `x_t`, with the exact maps of the world. */
function meanMap(
  world: GaussianWorld,
  kind: "endpoint" | "local" | "naive-intermediate",
  coefficients: Readonly<Record<string, number>>,
  t: number,
  s: number,
  extraNfe: boolean,
): Affine {
  if (kind === "endpoint") {
    return combine([coefficients.x, IDENTITY], [coefficients.x0, world.map(t, 0)]);
  }
  const y = world.map(t, s);
  if (kind === "local") {
    const velocity = extraNfe ? compose(world.velocity(s), y) : world.average(t, s);
    return combine([coefficients.y, y], [coefficients.velocity, velocity]);
  }
  throw new Error(`a shipped config uses the ablation-only ${kind} anchor`);
}
