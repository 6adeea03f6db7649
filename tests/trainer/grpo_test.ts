import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { gaussianKl as hostKl, gaussianLogProb as hostLogProb } from "../../src/ops.ts";
import { endpointAnchor, localAnchor } from "../../src/anchor.ts";
import { rectifiedFlow } from "../../src/path.ts";
import { generate } from "../../src/generate.ts";
import { toImages } from "../../src/image.ts";
import { loadModel } from "../../src/onnx/model.ts";
import { shapesTokenizer } from "../../src/text.ts";
import type { AnchorConfig } from "../../trainer/config.ts";
import { grpoObjective, type TransitionBatch } from "../../trainer/grpo.ts";
import { LoraAdapter } from "../../trainer/model/lora.ts";
import { TfFlowMap } from "../../trainer/model/tfjs.ts";
import { pathOf } from "../../trainer/model/config.ts";
import { FlowMapPolicy, tensorGaussianKl, tensorGaussianLogProb } from "../../trainer/policy.ts";
import { type Rollout, rollout, tfjsRolloutMaps, trajectorySeed } from "../../trainer/rollout.ts";
import { OnnxRollouts } from "../../trainer/rollout_onnx.ts";
import { fastBackend, tinyBase, tinyModel } from "./_trainer.ts";
import { type TimeGrid, timeGrid } from "../../src/grid.ts";

await fastBackend();

const PROMPTS = ["a red circle", "a red circle", "two squares", "two squares"];
const objective = {
  clipRange: 1e-4,
  klBeta: 0.04,
  klScale: "noise-scale",
  reduction: "mean",
} as const;

const OPTIONS = {
  prompts: PROMPTS,
  tokenizer: shapesTokenizer,
  seed: 0,
  microBatch: 2,
  reduction: "mean",
  reference: true,
  endpointEstimates: true,
} as const;

function roll(
  policy: FlowMapPolicy,
  adapter: LoraAdapter | undefined,
  iteration = 0,
): Promise<Rollout> {
  return rollout(policy, tfjsRolloutMaps(policy, adapter), { ...OPTIONS, iteration });
}

function transition(
  data: Rollout,
  k: number,
  advantages: number[],
  start = 0,
  count = 2,
): TransitionBatch {
  const [c, h, w] = data.sampleShape, size = c * h * w, L = shapesTokenizer.maxTokens;
  const rows = (a: Float32Array) => a.slice(start * size, (start + count) * size);
  return {
    step: k,
    x: tf.tensor4d(rows(data.states[k]), [count, c, h, w]),
    next: tf.tensor4d(rows(data.states[k + 1]), [count, c, h, w]),
    tokens: tf.tensor2d(data.tokens.slice(start * L, (start + count) * L), [count, L], "int32"),
    logProbOld: tf.tensor1d(data.logProbOld[k].slice(start, start + count)),
    advantages: tf.tensor1d(advantages),
    referenceMean: tf.tensor4d(rows(data.referenceMeans![k]), [count, c, h, w]),
  };
}

function randomizeB(lora: LoraAdapter, scale: number): void {
  tf.tidy(() =>
    [...lora.b.values()].forEach((b, i) =>
      b.assign(tf.randomNormal(b.shape, 0, scale, "float32", i + 1))
    )
  );
}

const anchors: [string, "meanflow" | "scm", AnchorConfig][] = [
  ["local", "meanflow", { kind: "local", delta: 0.05, noiseLevel: 0.7, velocity: "reuse" }],
  ["local extra-nfe", "meanflow", {
    kind: "local",
    delta: 0.05,
    noiseLevel: 0.7,
    velocity: "extra-nfe",
  }],
  ["endpoint (two-time)", "meanflow", { kind: "endpoint", eta: 1 }],
  ["endpoint (one-time)", "scm", { kind: "endpoint", eta: 1 }],
  ["naive intermediate", "meanflow", { kind: "naive-intermediate", fraction: 0.5 }],
];

for (const [name, kind, anchor] of anchors) {
  Deno.test(`grpo ${name}: the first inner update of an on-policy iteration has ratio exactly 1`, async () => {
    const model = await tinyModel(kind);
    const lora = new LoraAdapter(model.config, {
      rank: 2,
      alpha: 2,
      targets: ["to_q", "to_v", "proj_out"],
    });
    try {
      randomizeB(lora, 0.2); // a non-trivial policy, different from the reference
      const policy = new FlowMapPolicy(model, anchor, grid2(model));
      const data = await roll(policy, lora);
      for (const k of [0, 1]) {
        for (const start of [0, 2]) {
          const batch = transition(data, k, [1, -1], start);
          const terms = grpoObjective(policy, lora, batch, objective);
          assert.deepEqual(Array.from(terms.ratio.dataSync()), [1, 1], `k=${k} rows ${start}`);
          assert.ok(
            terms.kl.dataSync().every((v) => v > 0),
            "the adapter moved the mean off the reference",
          );
          tf.dispose([terms.loss, terms.ratio, terms.kl, terms.logProb, ...Object.values(batch)]);
        }
      }
    } finally {
      lora.dispose();
      model.dispose();
    }
  });
}

Deno.test("grpo: the objective's gradient moves log-probs of positive-advantage actions up", async () => {
  const model = await tinyModel("meanflow");
  const lora = new LoraAdapter(model.config, {
    rank: 2,
    alpha: 2,
    targets: ["to_q", "to_v", "to_out.0", "proj_out"],
  });
  try {
    const policy = new FlowMapPolicy(model, anchors[0][2], grid2(model));
    const data = await roll(policy, lora);
    const wide = { ...objective, clipRange: 10, klBeta: 0 };
    for (const k of [0, 1]) {
      const batch = transition(data, k, [1, -1]);
      const { grads } = tf.variableGrads(
        () => grpoObjective(policy, lora, batch, wide).loss,
        lora.variables,
      );
      const before = lora.variables.map((v) => v.clone());
      // A small step along the normalised gradient: large enough to show in float32.
      const norm = Math.hypot(...lora.variables.map((v) => tf.norm(grads[v.name]).dataSync()[0]));
      tf.tidy(() =>
        lora.variables.forEach((v) => v.assign(tf.sub(v, tf.mul(grads[v.name], 1e-2 / norm))))
      );
      const after = grpoObjective(policy, lora, batch, wide);
      const lp = after.logProb.dataSync(), old = batch.logProbOld.dataSync();
      assert.ok(lp[0] > old[0], `k=${k}: A > 0 action: ${lp[0]} should rise above ${old[0]}`);
      assert.ok(lp[1] < old[1], `k=${k}: A < 0 action: ${lp[1]} should fall below ${old[1]}`);
      lora.variables.forEach((v, i) => v.assign(before[i]));
      tf.dispose([
        ...before,
        ...Object.values(grads),
        after.loss,
        after.ratio,
        after.kl,
        after.logProb,
        ...Object.values(batch),
      ]);
    }
  } finally {
    lora.dispose();
    model.dispose();
  }
});

Deno.test("grpo: log-prob and KL agree with the host kernels (§5.5); the KL scale is explicit", () => {
  const x = tf.randomNormal([2, 3, 4, 4], 0, 1, "float32", 1) as tf.Tensor4D;
  const mean = tf.randomNormal([2, 3, 4, 4], 0, 1, "float32", 2) as tf.Tensor4D;
  const ref = tf.randomNormal([2, 3, 4, 4], 0, 1, "float32", 3) as tf.Tensor4D;
  const step = localAnchor(rectifiedFlow, 0.8, 0.4, { delta: 0.04 });
  const host = (t: tf.Tensor) => t.dataSync() as Float32Array;
  for (const reduction of ["mean", "sum"] as const) {
    const ours = tensorGaussianLogProb(x, mean, step.std, reduction).dataSync();
    const theirs = hostLogProb(host(x), host(mean), step.std, 2, reduction);
    ours.forEach((v, i) =>
      assert.ok(Math.abs(v - theirs[i]) <= 1e-4 * Math.max(1, Math.abs(theirs[i])))
    );
    const kl = tensorGaussianKl(mean, ref, step, "step-std", reduction).dataSync();
    const hostKlValues = hostKl(host(mean), host(ref), step.std, 2, reduction);
    kl.forEach((v, i) =>
      assert.ok(Math.abs(v - hostKlValues[i]) <= 1e-4 * Math.max(1, hostKlValues[i]))
    );
    const noiseKl = tensorGaussianKl(mean, ref, step, "noise-scale", reduction).dataSync();
    noiseKl.forEach((v, i) =>
      assert.ok(Math.abs(v / kl[i] - 0.04) < 1e-5, "noise-scale KL = delta × step-std KL")
    );
  }
  const endpoint = endpointAnchor(rectifiedFlow, 0.8, 0.4);
  assert.equal(endpoint.noiseScale, endpoint.std);
  tf.dispose([x, mean, ref]);
});

Deno.test("rollout: iteration 0 draws the SDK's stochastic images; micro-batching only rounds", async () => {
  const base = await tinyBase("meanflow");
  const model = new TfFlowMap(base.config, base.parameters, { trainable: false });
  const served = await loadModel(base.served);
  try {
    const anchor = { kind: "local", delta: 0.05, noiseLevel: 0.7, velocity: "reuse" } as const;
    const policy = new FlowMapPolicy(model, anchor, grid2(model));
    const data = await roll(policy, undefined);
    const wholeBatch = await rollout(policy, tfjsRolloutMaps(policy, undefined), {
      prompts: PROMPTS,
      tokenizer: shapesTokenizer,
      seed: 0,
      iteration: 0,
      microBatch: 4,
      reduction: "mean",
      reference: false,
      endpointEstimates: false,
    });
    // BLAS may round a row differently in a larger product: equal to float32 precision
    const gap = (a: Float32Array, b: Float32Array) =>
      a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    assert.ok(gap(wholeBatch.states[2], data.states[2]) < 1e-5, "micro-batch size");
    // trajectory i has seed trajectorySeed(0, i) = i: the SDK's seed 0 batch
    assert.deepEqual(PROMPTS.map((_, i) => trajectorySeed(0, i)), [0, 1, 2, 3]);
    const images = await generate(served, {
      prompts: PROMPTS,
      grid: policy.grid,
      seed: 0,
      stochastic: { kind: "local", delta: 0.05, noiseLevel: 0.7 },
    });
    const expected = toImages({ data: data.images, shape: [4, 3, 16, 16] });
    images.forEach((image, i) => {
      const worst = image.data.reduce(
        (m, v, j) => Math.max(m, Math.abs(v - expected[i].data[j])),
        0,
      );
      assert.ok(worst <= 1, `image ${i}: bytes differ by ${worst}`);
    });
    // a different iteration draws different noise
    const next = await roll(policy, undefined, 1);
    assert.notDeepEqual(next.states[0], data.states[0]);
  } finally {
    model.dispose();
    await served.dispose();
  }
});

Deno.test("rollout: shared initial noise starts a group from its first member's noise", async () => {
  const base = await tinyBase("meanflow");
  const model = new TfFlowMap(base.config, base.parameters, { trainable: false });
  try {
    const anchor = { kind: "local", delta: 0.05, noiseLevel: 0.7, velocity: "reuse" } as const;
    const policy = new FlowMapPolicy(model, anchor, grid2(model));
    const maps = tfjsRolloutMaps(policy, undefined);
    const independent = await roll(policy, undefined);
    const options = { ...OPTIONS, iteration: 0, initialNoiseGroup: 2 };
    const shared = await rollout(policy, maps, options);
    const oneBatch = await rollout(policy, maps, { ...options, microBatch: 1 });
    const size = 3 * 16 * 16;
    const row = (a: Float32Array, i: number) => a.slice(i * size, (i + 1) * size);
    for (const first of [0, 2]) {
      // the first member is unchanged; the second starts where the first does
      assert.deepEqual(row(shared.states[0], first), row(independent.states[0], first));
      assert.deepEqual(row(shared.states[0], first + 1), row(shared.states[0], first));
      // and keeps its own transition noise
      assert.notDeepEqual(row(shared.states[1], first + 1), row(shared.states[1], first));
    }
    // groups that straddle micro-batches start the same way
    assert.deepEqual(oneBatch.states[0], shared.states[0]);
  } finally {
    model.dispose();
  }
});

for (const [name, kind, anchor] of anchors) {
  Deno.test(`rollout ${name}: ONNX Runtime with the adapter merged draws TF.js's trajectories`, async () => {
    const base = await tinyBase(kind);
    const model = new TfFlowMap(base.config, base.parameters, { trainable: false });
    const lora = new LoraAdapter(model.config, {
      rank: 2,
      alpha: 2,
      targets: ["to_q", "to_v", "proj_out"],
    });
    const onnx = await OnnxRollouts.open(base.served, 1);
    try {
      randomizeB(lora, 0.2);
      const policy = new FlowMapPolicy(model, anchor, grid2(model));
      const expected = await roll(policy, lora);
      const session = await onnx.withAdapter(policy, lora.safetensors());
      const got = await rollout(policy, session.maps, { ...OPTIONS, iteration: 0 });
      await session.dispose();
      const gap = (a: Float32Array, b: Float32Array) =>
        a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
      for (let k = 0; k <= 2; k++) {
        assert.ok(gap(got.states[k], expected.states[k]) < 1e-4, `state ${k}`);
      }
      for (let k = 0; k < 2; k++) {
        assert.ok(
          gap(got.referenceMeans![k], expected.referenceMeans![k]) < 1e-4,
          `reference ${k}`,
        );
        // a mean-reduced log-prob moves by about |Δmean| · |z| / std
        assert.ok(gap(got.logProbOld[k], expected.logProbOld[k]) < 1e-4, `log-prob ${k}`);
      }
      assert.ok(gap(got.endpointEstimates![0], expected.endpointEstimates![0]) < 1e-4, "estimate");
      assert.ok(gap(got.images, expected.images) < 1e-4, "images");
      assert.ok(
        gap(got.images, (await roll(policy, undefined)).images) > 1e-3,
        "the adapter matters",
      );
    } finally {
      lora.dispose();
      model.dispose();
      await onnx.dispose();
    }
  });
}

/** A P = 2 rollout grid: shifted by 3 on rectified flow, angular on TrigFlow. */
function grid2(model: TfFlowMap): TimeGrid {
  const path = pathOf(model.config);
  return timeGrid(path, { steps: 3, shift: path.name === "rectified-flow" ? 3 : 1 });
}
