import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  meanFlowConfig,
  type ModelConfig,
  pathOf,
  scmConfig,
  validateConfig,
} from "../../../trainer/model/config.ts";
import { forwardCost } from "../../../trainer/model/cost.ts";
import { ENDPOINT_EPSILON, endpointCoefficients } from "../../../trainer/model/network.ts";
import { countParameters, initParameters, modelLayout } from "../../../trainer/model/parameters.ts";
import { TfFlowMap, tfOps } from "../../../trainer/model/tfjs.ts";
import { endpointFromVelocity, rectifiedFlow, trigFlow } from "../../../src/path.ts";
import { randomInputs, randomParameters, runTf, tinyConfigs } from "../../_model.ts";

Deno.test("model config: defaults fit the budget and bad configs are named", () => {
  for (const config of [meanFlowConfig, scmConfig]) {
    assert.ok(countParameters(config) <= 3_000_000, `${config.kind}: ${countParameters(config)}`);
    const cost = forwardCost(config);
    assert.deepEqual(cost.outputShape, [1, 3, 32, 32]);
    assert.ok(cost.matmulFlops > 2e7 && cost.flops > cost.matmulFlops);
  }
  const bad = (patch: Partial<ModelConfig>, message: RegExp) =>
    assert.throws(() => validateConfig({ ...meanFlowConfig, ...patch }), message);
  bad({ patchSize: 5 }, /not divisible by patchSize/);
  bad({ heads: 3 }, /not divisible by heads/);
  bad({ depth: 0 }, /config.depth must be a positive integer/);
  bad({ frequencyDim: 15 }, /frequencyDim must be even/);
  bad({ kind: "three-time" as "two-time" }, /config.kind/);
  bad({ path: { name: "rectified-flow", sigmaD: 0.5 } }, /sigmaD 1/);
  bad({ path: { name: "vp" as "trigflow", sigmaD: 1 } }, /path.name/);
});

Deno.test("model layout: module names mirror diffusers' FLUX transformer", () => {
  const names = new Set(modelLayout(meanFlowConfig).parameters.map((p) => p.name));
  for (
    const name of [
      "x_embedder.weight",
      "context_embedder.weight",
      "time_text_embed.timestep_embedder.linear_1.weight",
      "time_text_embed.text_embedder.linear_2.bias",
      "transformer_blocks.3.norm1.linear.weight",
      "transformer_blocks.0.norm1_context.linear.weight",
      "transformer_blocks.0.attn.to_out.0.weight",
      "transformer_blocks.0.attn.add_v_proj.weight",
      "transformer_blocks.0.attn.to_add_out.weight",
      "transformer_blocks.0.ff.net.0.proj.weight",
      "transformer_blocks.0.ff_context.net.2.weight",
      "norm_out.linear.weight",
      "proj_out.weight",
    ]
  ) assert.ok(names.has(name), name);
  assert.deepEqual(
    modelLayout(meanFlowConfig).parameters.find((p) => p.name === "proj_out.weight")?.shape,
    [192, 384],
    "linear weights are [out, in]",
  );
  assert.ok(names.has("time_text_embed.interval_embedder.linear_1.weight"));
  assert.ok(
    !modelLayout(scmConfig).parameters.some((p) => p.name.includes("interval_embedder")),
  );
});

Deno.test("model: graph endpoint coefficients equal src/path.ts endpointFromVelocity", () => {
  const times = [0, 0.1, 0.5, 0.9, 1];
  for (const path of [rectifiedFlow, trigFlow(0.5), trigFlow(1)]) {
    const ts = times.map((t) => t * path.tMax);
    const { x, v } = tf.tidy(() => {
      const c = endpointCoefficients(tfOps(new Map()), path, tf.tensor1d(ts));
      return { x: c.x?.dataSync().slice() ?? ts.map(() => 1), v: c.v.dataSync().slice() };
    });
    ts.forEach((t, i) => {
      const expected = endpointFromVelocity(path, t);
      assert.ok(Math.abs(x[i] - expected.x) < 1e-6, `${path.name} c_x(${t})`);
      assert.ok(Math.abs(v[i] - expected.v) < 1e-6, `${path.name} c_v(${t})`);
    });
  }
});

Deno.test("model: endpoint head — a jump to 0 lands on the estimate, f(x, 0) = x", () => {
  // With adaLN-Zero blocks and proj_out = (0, β) the raw output is β everywhere,
  // so the endpoint estimate is E = sigma_d·β (network.ts).
  const beta = 0.3, times = [0, 0.01, 0.05, 0.5, 0.999];
  for (const config of tinyConfigs) {
    const params = new Map(initParameters(config, 4));
    const bias = params.get("proj_out.bias")!;
    params.set("proj_out.bias", { shape: bias.shape, data: bias.data.map(() => beta) });
    const model = new TfFlowMap(config, params);
    try {
      const path = pathOf(config);
      const inputs = randomInputs(config, times.length, 1);
      const t = Float32Array.from(times, (u) => u * path.tMax);
      const out = runTf(model, { ...inputs, t, r: inputs.r && new Float32Array(times.length) });
      const per = out.length / times.length, estimate = path.sigmaD * beta;
      times.forEach((_, k) => {
        const c = endpointFromVelocity(path, t[k]);
        for (let i = k * per; i < (k + 1) * per; i += 97) {
          const x = inputs.x[i];
          const velocity = (c.x * x - estimate) / Math.max(-c.v, ENDPOINT_EPSILON);
          const expected = config.kind === "two-time" ? velocity : c.x * x + c.v * velocity;
          assert.ok(Math.abs(out[i] - expected) < 1e-4, `${config.kind} t=${t[k]}`);
          if (config.kind === "one-time" && -c.v >= ENDPOINT_EPSILON) {
            assert.ok(Math.abs(out[i] - estimate) < 1e-4, "f = E away from t = 0");
          }
          if (config.kind === "one-time" && t[k] === 0) assert.equal(out[i], x, "f(x, 0) = x");
        }
      });
    } finally {
      model.dispose();
    }
  }
});

Deno.test("model: every parameter gets a finite gradient; bad inputs are named", () => {
  const config = tinyConfigs[1];
  const model = new TfFlowMap(config, randomParameters(config, 6));
  const inputs = randomInputs(config, 2, 2);
  const tensors = {
    x: tf.tensor4d(inputs.x, [2, 3, 32, 32]),
    t: tf.tensor1d(inputs.t),
    tokens: tf.tensor2d(inputs.tokens, [2, config.textLength], "int32"),
  };
  try {
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.square(model.forward(tensors))) as tf.Scalar,
      [...model.variables.values()],
    );
    assert.equal(Object.keys(grads).length, model.variables.size);
    for (const [name, grad] of Object.entries(grads)) {
      assert.ok(grad.dataSync().every(Number.isFinite), name);
    }
    tf.dispose([value, ...Object.values(grads)]);
    assert.throws(() => model.forward({ ...tensors, r: tensors.t }), /takes no input r/);
    const floatTokens = tf.zeros([2, config.textLength]) as tf.Tensor2D;
    assert.throws(() => model.forward({ ...tensors, tokens: floatTokens }), /int32/);
    assert.throws(() => model.forward({ ...tensors, t: tf.zeros([3]) }), /input t has shape/);
    tf.dispose(floatTokens);
  } finally {
    tf.dispose(Object.values(tensors));
    model.dispose();
  }
});
