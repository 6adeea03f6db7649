/**
 * Training, evaluation and serving sample on the same grids for both bundled
 * models (docs/math.md §3, §6): at K = P + 1 a config without a shift or an
 * explicit grid rolls out on the grid that evaluation (trainer/eval, through
 * the SDK) and the service (`generate` with the model's metadata; its routes
 * return `generate`'s bytes, tests/serve/generation_test.ts) sample on. They
 * differ only where a config says so: its `rollout.shift` or `rollout.grid`.
 */
import assert from "node:assert/strict";
import { generate } from "../../src/generate.ts";
import { modelGrid, timeGrid } from "../../src/grid.ts";
import { loadModel } from "../../src/onnx/model.ts";
import { FieldError, validateTrainConfig } from "../../trainer/config.ts";
import { servedModel } from "../../trainer/eval/sampler.ts";
import { rolloutGrid } from "../../trainer/policy.ts";
import { loadBaseModel } from "../../trainer/setup.ts";

const PROMPTS = ["two red circles", "a blue square above a green triangle"];
const SEED = 31;

function rolloutOf(onnx: string, rollout: Record<string, unknown>) {
  return validateTrainConfig({
    name: "grids",
    model: { onnx },
    rollout: { anchor: { kind: "endpoint" }, ...rollout },
    reward: [{ kind: "brightness" }],
  }).rollout;
}

for (const name of ["shapes-meanflow", "shapes-scm"]) {
  Deno.test(`grids ${name}: training, evaluation and serving agree unless a config says so`, async () => {
    const onnx = `src/models/${name}/model.onnx`;
    const base = await loadBaseModel({ onnx });
    await using model = await loadModel(onnx);
    const evaluation = await servedModel(onnx);
    try {
      for (const steps of [1, 2, 3, 4]) {
        const grid = modelGrid(model.info, { steps });
        const images = await generate(model, { prompts: PROMPTS, grid, seed: SEED });
        assert.deepEqual(
          await generate(model, { prompts: PROMPTS, steps, seed: SEED }),
          images,
          `serving at K = ${steps}`,
        );
        assert.deepEqual(
          await evaluation.base.generate(PROMPTS, steps, SEED),
          images,
          `evaluation at K = ${steps}`,
        );
        if (steps === 1) continue;
        const rollout = rolloutOf(onnx, { stochasticSteps: steps - 1 });
        assert.deepEqual(rolloutGrid(base.info, rollout), grid, `training at K = ${steps}`);
      }
      const { path } = base.info;
      const explicit = [path.tMax * 0.99, 0.7, 0.3, 0];
      const own = rolloutOf(onnx, { stochasticSteps: 2, grid: explicit });
      assert.deepEqual(rolloutGrid(base.info, own), explicit, "an explicit rollout grid");
      const shifted = rolloutOf(onnx, { stochasticSteps: 2, shift: 3 });
      if (path.name === "rectified-flow") {
        assert.deepEqual(rolloutGrid(base.info, shifted), timeGrid(path, { steps: 3, shift: 3 }));
        assert.notDeepEqual(rolloutGrid(base.info, shifted), modelGrid(model.info, { steps: 3 }));
      } else {
        assert.throws(() => rolloutGrid(base.info, shifted), /TrigFlow grids are angular/);
      }
    } finally {
      await evaluation.base.dispose();
    }
  });
}

Deno.test("grids: a config gives a shift or an explicit grid, not both", () => {
  assert.throws(
    () => rolloutOf("m.onnx", { stochasticSteps: 1, shift: 3, grid: [1, 0.5, 0] }),
    (error) => error instanceof FieldError && /rollout.grid takes none/.test(error.message),
  );
  assert.equal(rolloutOf("m.onnx", {}).shift, undefined, "absent: the model's own");
});
