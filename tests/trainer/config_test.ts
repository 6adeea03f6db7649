import assert from "node:assert/strict";
import { FieldError, loadTrainConfig, validateTrainConfig } from "../../trainer/config.ts";

const minimal = {
  name: "t",
  model: { onnx: "m.onnx" },
  rollout: { anchor: { kind: "local" } },
  reward: [{ kind: "composition" }],
};

Deno.test("config: defaults follow docs/math.md §6", () => {
  const c = validateTrainConfig(minimal);
  assert.deepEqual(c.optimizer, {
    lr: 3e-4,
    betas: [0.9, 0.999],
    weightDecay: 1e-4,
    eps: 1e-8,
    gradClip: 1,
    accumulation: 1,
    innerEpochs: 1,
  });
  assert.deepEqual(c.ema, { decay: 0.9, every: 8 });
  assert.equal(c.advantage.clip, 5);
  assert.equal(c.advantage.mode, "per-prompt-global-std");
  assert.deepEqual(c.rollout.anchor, {
    kind: "local",
    delta: 0.01,
    noiseLevel: 0.7,
    velocity: "reuse",
  });
  assert.deepEqual(c.reward, [{ kind: "composition", mode: "strict", weight: 1 }]);
  assert.equal(c.rollout.initialNoise, "independent");
});

Deno.test("config: errors name the bad field", () => {
  const bad = (patch: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(() => validateTrainConfig({ ...minimal, ...patch }), (e: Error) => {
      assert.ok(e instanceof FieldError, `${e}`);
      assert.match(e.message, pattern);
      return true;
    });
  bad(
    { rollout: { groupSize: 1, anchor: { kind: "local" } } },
    /^rollout\.groupSize must be an integer ≥ 2, got 1$/,
  );
  bad({ rollout: { anchor: { kind: "sde" } } }, /^rollout\.anchor\.kind must be one of/);
  bad(
    { rollout: { initialNoise: "group", anchor: { kind: "local" } } },
    /^rollout\.initialNoise must be one of "independent", "shared", got "group"$/,
  );
  bad(
    { rollout: { anchor: { kind: "endpoint", eta: 1.5 } } },
    /^rollout\.anchor\.eta must lie in \(0, 1\]/,
  );
  bad({ rollout: { anchor: { kind: "local", delta: -1 } } }, /^rollout\.anchor\.delta must be > 0/);
  bad({ optimizer: { lr: "fast" } }, /^optimizer\.lr must be a finite number, got "fast"$/);
  bad({ optimizer: { betas: [0.9] } }, /^optimizer\.betas must hold two numbers$/);
  bad(
    { objective: { klScale: "std" } },
    /^objective\.klScale must be one of "step-std", "noise-scale"/,
  );
  bad({ objective: { reduction: "max" } }, /^objective\.reduction must be one of "mean", "sum"/);
  bad(
    { advantage: { mode: "group", sum: true } },
    /^advantage\.sum applies to mode "step-aware" only/,
  );
  bad({
    advantage: { mode: "step-aware" },
    rollout: { stochasticSteps: 1, anchor: { kind: "local" } },
  }, /stochasticSteps ≥ 2/);
  bad({ reward: [] }, /^reward must list at least one term$/);
  bad({ reward: [{ kind: "composition", mode: "loose" }] }, /^reward\[0\]\.mode must be one of/);
  bad({ lora: { rnk: 4 } }, /^lora\.rnk is not a known field/);
  bad(
    { model: { random: "meanflow", overrides: { dept: 1 } } },
    /^model\.overrides\.dept is not a known field/,
  );
  bad({ extra: 1 }, /^config\.extra is not a known field/);
  bad({ model: {} }, /^model needs "onnx"/);
  bad({ model: { random: "scm" }, rollout: { anchor: { kind: "local" } } }, /needs a two-time map/);
  bad(
    { rollout: { prompts: 3, groupSize: 3, microBatch: 2, anchor: { kind: "local" } } },
    /^rollout\.microBatch 2 must divide/,
  );
  bad({ eval: { steps: [0] } }, /^eval\.steps\[0\] must be an integer ≥ 1/);
  bad({ name: "../x" }, /^name must be a plain file name/);
});

Deno.test("config: the committed configs validate", async () => {
  for await (const entry of Deno.readDir("trainer/configs")) {
    const config = await loadTrainConfig(`trainer/configs/${entry.name}`);
    assert.equal(`${config.name}.json`, entry.name);
  }
  await assert.rejects(loadTrainConfig("trainer/configs/none.json"), /cannot read config/);
});
