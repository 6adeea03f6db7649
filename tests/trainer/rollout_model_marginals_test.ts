/**
 * On the bundled models, the shipped configs' stochastic rollouts stay on
 * the model's own marginals: each state's mean square `E[x_k²]` lies within
 * 5 % of the deterministic trajectory's (the two-time map's jumps along the
 * same grid, from the same starts). One-time maps have no deterministic
 * trajectory: their rollout with the endpoint anchor is the SDK's own
 * consistency sampler (docs/math.md §4), checked by the sampler tests.
 */

import assert from "node:assert/strict";
import { combine2 } from "../../src/ops.ts";
import { twoTimeJump } from "../../src/anchor.ts";
import { loadModel } from "../../src/onnx/model.ts";
import { shapesTokenizer } from "../../src/text.ts";
import { loadTrainConfig } from "../../trainer/config.ts";
import { splitPrompts } from "../../trainer/data/splits.ts";
import { TfFlowMap } from "../../trainer/model/tfjs.ts";
import { FlowMapPolicy, rolloutGrid } from "../../trainer/policy.ts";
import { rollout } from "../../trainer/rollout.ts";
import { onnxRolloutMaps } from "../../trainer/rollout_onnx.ts";
import { loadBaseModel } from "../../trainer/setup.ts";
import { fastBackend } from "./_trainer.ts";

await fastBackend();

const TRAJECTORIES = 128;

const meanSquare = (x: Float32Array) => {
  let sum = 0;
  for (const v of x) sum += v * v;
  return sum / x.length;
};

for (const file of ["trainer/configs/shapes-meanflow.json"]) {
  Deno.test(`rollouts: ${file} keeps E[x_k²] within 5 % of the deterministic trajectory`, async () => {
    const config = await loadTrainConfig(file);
    if (!("onnx" in config.model)) throw new Error(`${file} must name a bundled model`);
    const base = await loadBaseModel(config.model);
    const { anchor, stochasticSteps } = config.rollout;
    const policy = new FlowMapPolicy(
      new TfFlowMap(base.config, base.parameters, { trainable: false }),
      anchor,
      rolloutGrid(base.info, config.rollout),
    );
    await using model = await loadModel(config.model.onnx);
    const map = model.flowMap;
    assert.equal(map.kind, "two-time");
    const pool = splitPrompts("train");
    const prompts = Array.from({ length: TRAJECTORIES }, (_, i) => pool[(i * 37) % pool.length]);
    const data = await rollout(policy, onnxRolloutMaps(policy, map, map), {
      prompts,
      tokenizer: shapesTokenizer,
      seed: 3,
      iteration: 0,
      microBatch: 32,
      reduction: config.objective.reduction,
      reference: false,
      endpointEstimates: false,
    });
    const tokens = shapesTokenizer.encodeBatch(prompts);
    const shape = [TRAJECTORIES, ...data.sampleShape];
    let x = data.states[0];
    for (let k = 0; k < stochasticSteps; k++) {
      const t = policy.grid[k], s = policy.grid[k + 1];
      if (map.kind !== "two-time") throw new Error("unreachable");
      const u = await map.average({ data: x, shape }, s, t, tokens);
      const jump = twoTimeJump(t, s);
      x = combine2(new Float32Array(x.length), jump.x, x, jump.u, u);
      const deterministic = meanSquare(x), stochastic = meanSquare(data.states[k + 1]);
      assert.ok(
        Math.abs(stochastic / deterministic - 1) <= 0.05,
        `step ${k} (t = ${t} → ${s}): E[x²] ${stochastic.toFixed(4)} stochastic, ` +
          `${deterministic.toFixed(4)} deterministic`,
      );
    }
  });
}
