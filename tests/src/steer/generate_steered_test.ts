import assert from "node:assert/strict";
import {
  compositionReward,
  generate,
  generateSteered,
  type Image,
  loadModel,
  MAX_PARTICLES,
  RewardError,
  type SteeringReward,
} from "../../../mod.ts";

const mean: SteeringReward<Image> = (images) =>
  Promise.resolve(
    Float32Array.from(images, (im) => im.data.reduce((a, b) => a + b, 0) / im.data.length),
  );

Deno.test("generateSteered on the bundled MeanFlow model", async (t) => {
  await using model = await loadModel();

  await t.step("best-of-N with one particle is byte-identical to generate", async () => {
    const plain = await generate(model, { prompt: "two red circles", n: 2, seed: 11 });
    const steered = await generateSteered(model, {
      prompt: "two red circles",
      n: 2,
      seed: 11,
      steering: { reward: mean, method: "best-of-n", particles: 1 },
    });
    assert.deepEqual(steered.images.map((i) => i.data), plain.map((i) => i.data));
    assert.equal(steered.nfe, model.info.defaultSteps);
    assert.equal(steered.rewardCalls, 1);
  });

  await t.step("best-of-N raises the reward it selects on", async () => {
    const prompts = [
      "a blue square",
      "two green triangles",
      "a red circle",
      "three yellow circles",
    ];
    const plain = await generate(model, { prompts, seed: 3 });
    const best = await generateSteered(model, {
      prompts,
      seed: 3,
      steering: { reward: mean, method: "best-of-n", particles: 4 },
    });
    const plainScores = await mean(plain, prompts), bestScores = await mean(best.images, prompts);
    for (let i = 0; i < prompts.length; i++) assert.ok(bestScores[i] >= plainScores[i]);
    assert.equal(best.nfe, 4 * model.info.defaultSteps);
  });

  await t.step("posterior steering is deterministic and batch-invariant", async () => {
    const steering = { reward: compositionReward(), method: "posterior", particles: 3 } as const;
    const prompts = ["a red circle", "two squares"];
    const batch = await generateSteered(model, { prompts, seed: 20, steering });
    const alone = await generateSteered(model, { prompts: [prompts[1]], seed: 21, steering });
    assert.deepEqual(batch.images[1].data, alone.images[0].data);
    const again = await generateSteered(model, { prompts, seed: 20, steering });
    assert.deepEqual(again.images.map((i) => i.data), batch.images.map((i) => i.data));
    assert.equal(batch.nfe, model.info.defaultSteps * (2 + 3));
    assert.equal(batch.rewardCalls, model.info.defaultSteps * 3);
  });

  await t.step("bad options throw before any work", async () => {
    const bad = (steering: unknown) =>
      generateSteered(model, { prompt: "a red circle", steering: steering as never });
    await assert.rejects(bad({ reward: mean, method: "best-of-n", particles: 0 }), RangeError);
    await assert.rejects(
      bad({ reward: mean, method: "posterior", particles: MAX_PARTICLES + 1 }),
      RangeError,
    );
    await assert.rejects(bad({ reward: mean, method: "posterior", particles: 1.5 }), RangeError);
    await assert.rejects(
      bad({ reward: mean, method: "posterior", particles: 2, strength: NaN }),
      RangeError,
    );
    await assert.rejects(
      bad({ reward: mean, method: "posterior", particles: 2, strength: Infinity }),
      RangeError,
    );
    await assert.rejects(bad({ reward: mean, method: "smc", particles: 2 }), TypeError);
    await assert.rejects(
      bad({ reward: "composition", method: "posterior", particles: 2 }),
      TypeError,
    );
    await assert.rejects(bad(undefined), TypeError);
    await assert.rejects(
      bad({ reward: mean, method: "posterior", particles: 2, inner: { fractions: [0.5, 0.7] } }),
      RangeError,
    );
  });

  await t.step("a failing reward stops generation with a RewardError", async () => {
    const run = (reward: SteeringReward<Image>, method: "best-of-n" | "posterior") =>
      generateSteered(model, {
        prompt: "a red circle",
        n: 2,
        steering: { reward, method, particles: 2 },
      });
    for (const method of ["best-of-n", "posterior"] as const) {
      await assert.rejects(
        run(() => Promise.reject(new Error("scorer down")), method),
        (e: unknown) =>
          e instanceof RewardError && e.kind === "failed" && /scorer down/.test(e.message),
      );
      await assert.rejects(
        run(() => {
          throw new Error("sync");
        }, method),
        (e: unknown) => e instanceof RewardError && e.kind === "failed",
      );
      await assert.rejects(
        run((images) => Promise.resolve(new Float32Array(images.length).fill(NaN)), method),
        (e: unknown) => e instanceof RewardError && e.kind === "non-finite",
      );
      await assert.rejects(
        run((images) => Promise.resolve(new Float32Array(images.length - 1)), method),
        (e: unknown) => e instanceof RewardError && e.kind === "length",
      );
      await assert.rejects(
        run(() => Promise.resolve("1,2,3,4" as unknown as Float32Array), method),
        (e: unknown) => e instanceof RewardError && e.kind === "length",
      );
    }
    await assert.rejects(
      generateSteered(model, {
        prompt: "circle red a",
        steering: { reward: compositionReward(), method: "best-of-n", particles: 2 },
      }),
      RewardError,
    );
  });
});
