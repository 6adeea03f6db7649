import assert from "node:assert/strict";
import { trainingExample } from "../../../trainer/data/dataset.ts";
import { allPrompts, canonicalKey, CATEGORIES, parsePrompt } from "../../../src/shapes/prompts.ts";
import {
  HELD_OUT_BINDINGS,
  isHeldOutBinding,
  SPLIT_VERSION,
  splitDigest,
  splitPrompts,
} from "../../../trainer/data/splits.ts";

const train = splitPrompts("train");
const evaluation = splitPrompts("eval");

Deno.test("the split is pinned: version, sizes and SHA-256", async () => {
  assert.equal(SPLIT_VERSION, "shapes-split-v1");
  assert.equal(train.length, 927);
  assert.equal(evaluation.length, 639);
  assert.equal(
    await splitDigest(),
    "8fecfb91cc09aebefb23c8d29d80ad3ebb40cf8632be34918c5256293066aa9d",
  );
});

Deno.test("train and eval partition the grammar and every category is evaluated", () => {
  const trainSet = new Set(train);
  assert.ok(evaluation.every((p) => !trainSet.has(p)));
  assert.deepEqual([...train, ...evaluation].sort(), allPrompts().sort());
  for (const split of [train, evaluation]) {
    const categories = new Set(split.map((p) => parsePrompt(p).category));
    assert.deepEqual([...categories].sort(), [...CATEGORIES].sort());
  }
});

Deno.test("eval combinations never occur in training prompts", () => {
  const specs = train.map(parsePrompt);
  // no training prompt names a held-out colour–shape binding
  for (const spec of specs) {
    for (const g of spec.groups) {
      assert.ok(g.color === undefined || !isHeldOutBinding(g.shape, g.color), spec.prompt);
    }
  }
  // no eval prompt describes the same scenes as a training prompt
  const trainKeys = new Set(specs.map(canonicalKey));
  for (const prompt of evaluation) {
    assert.ok(!trainKeys.has(canonicalKey(parsePrompt(prompt))), prompt);
  }
  // held-out position layouts are absent from training in both phrasings
  const layout = (p: string) => {
    const s = parsePrompt(p);
    const [a, b] = s.groups.map((g) => g.shape);
    return s.relation === "right of"
      ? `${b} left of ${a}`
      : s.relation === "below"
      ? `${b} above ${a}`
      : `${a} ${s.relation} ${b}`;
  };
  const trainLayouts = new Set(train.filter((p) => parsePrompt(p).relation).map(layout));
  for (
    const held of ["circle left of triangle", "square above circle", "triangle left of square"]
  ) {
    assert.ok(!trainLayouts.has(held), held);
  }
});

Deno.test("training examples come from the train split and never paint a held-out binding", () => {
  const trainSet = new Set(train);
  for (let seed = 0; seed < 300; seed++) {
    const example = trainingExample(seed);
    assert.ok(trainSet.has(example.prompt));
    for (const o of example.scene.objects) {
      assert.ok(
        !HELD_OUT_BINDINGS.some((b) => b.shape === o.shape && b.color === o.color),
        example.prompt,
      );
    }
  }
  assert.deepEqual(trainingExample(17).image.data, trainingExample(17).image.data);
});
