import assert from "node:assert/strict";
import { renderPrompt } from "../../../trainer/data/dataset.ts";
import { createImage, type RgbImage } from "../../../src/shapes/image.ts";
import { addNoise } from "../../../trainer/data/perturb.ts";
import { detectObjects, MAX_FIT_ERROR } from "../../../src/shapes/detect.ts";
import { compositionReward, shapeQuality } from "../../../trainer/rewards/composition.ts";
import { jpegCompressibility } from "../../../trainer/rewards/compressibility.ts";
import { randomControl } from "../../../trainer/rewards/random.ts";
import {
  checkedScore,
  defineReward,
  type Reward,
  RewardError,
  weightedSum,
} from "../../../trainer/rewards/reward.ts";

const fixed = (
  name: string,
  range: [number, number],
  values: number[] | (() => never),
): Reward => ({
  name,
  range,
  score: () => Promise.resolve(typeof values === "function" ? values() : Float32Array.from(values)),
});
const two = [createImage(32, 32), createImage(32, 32)];

async function rejects(
  promise: Promise<unknown>,
  kind: string,
  pattern: RegExp,
  indices?: number[],
) {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof RewardError, String(e));
    assert.equal(e.kind, kind);
    assert.match(e.message, pattern);
    if (indices) assert.deepEqual(e.indices, indices);
    return true;
  });
}

Deno.test("composition rewards score strict and partial verdicts", async () => {
  const { image } = renderPrompt("two circles", 5);
  const prompts = ["two circles", "three circles"];
  assert.deepEqual([...await compositionReward().score([image, image], prompts)], [1, 0]);
  const partial = compositionReward({ mode: "partial" });
  assert.equal(partial.name, "composition:partial");
  assert.deepEqual(partial.range, [0, 1]);
  assert.deepEqual([...await partial.score([image, image], prompts)], [1, 0.5]);
  await rejects(partial.score([image], ["a hexagon"]), "input", /prompt 0: .*not a shapes prompt/);
  await rejects(partial.score([image], []), "input", /1 images but 0 prompts/);
  await rejects(
    partial.score([{ ...image, channels: 4 }], ["two circles"]),
    "failed",
    /needs 3 channels/,
  );
});

Deno.test("graded composition is partial credit times shape quality, and falls with noise", async () => {
  const { image } = renderPrompt("two circles", 5);
  const prompts = ["two circles", "three circles"];
  const graded = compositionReward({ mode: "graded" });
  assert.equal(graded.name, "composition:graded");
  const quality = shapeQuality(detectObjects(image), MAX_FIT_ERROR);
  assert.ok(quality > 0.5 && quality <= 1, `quality of a clean render ${quality}`);
  const [full, half] = await graded.score([image, image], prompts);
  assert.ok(Math.abs(full - quality) < 1e-6 && Math.abs(half - quality / 2) < 1e-6);
  // noise leaves the verdict alone but worsens the fits, so the graded score drops a little
  const noisy = addNoise(image, 0.06, 3);
  const [partialNoisy] = await compositionReward({ mode: "partial" }).score(
    [noisy],
    prompts.slice(0, 1),
  );
  const [gradedNoisy] = await graded.score([noisy], prompts.slice(0, 1));
  assert.equal(partialNoisy, 1);
  assert.ok(gradedNoisy < full && gradedNoisy > 0.5 * full, `${gradedNoisy} vs ${full}`);
  assert.equal(shapeQuality([], MAX_FIT_ERROR), 0);
});

Deno.test("JPEG compressibility prefers flat images, as DDPO", async () => {
  const flat = createImage(32, 32);
  const busy = addNoise(flat, 0.3, 1);
  const reward = jpegCompressibility();
  assert.equal(reward.name, "jpeg-compressibility");
  assert.deepEqual(reward.range, [-Infinity, 0]);
  const [a, b] = await reward.score([flat, busy], ["", ""]);
  assert.ok(a < 0 && b < a, `flat ${a} kB, noisy ${b} kB`);
  const [c] = await jpegCompressibility({ direction: "incompressibility" }).score([busy], [""]);
  assert.equal(c, -b);
  assert.throws(() => jpegCompressibility({ quality: 0 }), /quality/);
});

Deno.test("invalid scores become typed errors naming the reward", async () => {
  await rejects(
    checkedScore(fixed("short", [0, 1], [1]), two, ["", ""]),
    "length",
    /"short": returned 1 scores for 2/,
  );
  await rejects(
    checkedScore(fixed("nan", [0, 1], [0, NaN]), two, ["", ""]),
    "non-finite",
    /NaN at index 1/,
    [1],
  );
  await rejects(
    checkedScore(fixed("big", [0, 1], [2, 0.5]), two, ["", ""]),
    "range",
    /outside \[0, 1\]/,
    [0],
  );
  const boom = fixed("boom", [0, 1], () => {
    throw new Error("server on fire");
  });
  await rejects(checkedScore(boom, two, ["", ""]), "failed", /"boom": threw: server on fire/);
  const array: Reward = {
    name: "array",
    range: [0, 1],
    score: () => Promise.resolve([0, 1] as unknown as Float32Array),
  };
  await rejects(checkedScore(array, two, ["", ""]), "length", /returned a object/);
  const defined = defineReward(
    "defined",
    [0, 1],
    () => Promise.resolve(Float32Array.of(Infinity, 0)),
  );
  await rejects(defined.score(two, ["", ""]), "non-finite", /Infinity at index 0/);
  assert.throws(
    () => defineReward("empty", [1, 0], () => Promise.resolve(new Float32Array())),
    /empty/,
  );
});

Deno.test("weightedSum adds weighted scores, derives its range and surfaces failing terms", async () => {
  const sum = weightedSum([
    { reward: fixed("a", [0, 1], [1, 0.5]), weight: 2 },
    { reward: fixed("b", [-1, 3], [3, -1]), weight: -0.5 },
  ]);
  assert.equal(sum.name, "2*a+-0.5*b");
  assert.deepEqual(sum.range, [-1.5, 2.5]);
  assert.deepEqual([...await sum.score(two, ["", ""])], [0.5, 1.5]);
  const broken = weightedSum([
    { reward: fixed("a", [0, 1], [1, 1]), weight: 1 },
    { reward: fixed("nan", [0, 1], [NaN, 0]), weight: 1 },
  ], "total");
  await rejects(broken.score(two, ["", ""]), "non-finite", /"nan"/, [0]);
  assert.throws(() => weightedSum([]), /at least one/);
  assert.throws(() => weightedSum([{ reward: fixed("a", [0, 1], []), weight: NaN }]), /finite/);
  const images: RgbImage[] = [renderPrompt("a red circle", 1).image];
  const mixed = weightedSum([
    { reward: compositionReward(), weight: 1 },
    { reward: jpegCompressibility(), weight: 0.1 },
  ]);
  assert.deepEqual(mixed.range, [-Infinity, 1]);
  const [score] = await mixed.score(images, ["a red circle"]);
  assert.ok(score > 0.8 && score < 1, `${score}`);
});

Deno.test("random control: a uniform score per image that any byte reshuffles", async () => {
  const images = Array.from({ length: 2000 }, (_, i) => {
    const image = createImage(8, 8);
    image.data[i % image.data.length] = (i * 37) % 256;
    image.data[(i * 7) % image.data.length] ^= i >> 6;
    return image;
  });
  const scores = await randomControl().score(images, images.map(() => ""));
  assert.deepEqual(await randomControl().score(images, images.map(() => "")), scores);
  assert.ok(scores.every((s) => s >= 0 && s < 1));
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  // uniform on [0, 1): the mean's standard error is 0.0065
  assert.ok(Math.abs(mean - 0.5) < 0.03, `mean ${mean}`);
  const one = createImage(8, 8), other = createImage(8, 8);
  other.data[63] = 1;
  const [a, b] = await randomControl().score([one, other], ["", ""]);
  assert.notEqual(a, b);
});
