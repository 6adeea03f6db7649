import assert from "node:assert/strict";
import { FieldError } from "../../../cli/readers.ts";
import { renderPrompt } from "../../../trainer/data/dataset.ts";
import { COMPOSITION_MODES } from "../../../trainer/rewards/composition.ts";
import { createReward, REWARD_TERM, REWARDS } from "../../../trainer/rewards/registry.ts";
import { buildReward } from "../../../trainer/setup.ts";

Deno.test("reward registry: every kind reads its term and builds its reward", () => {
  const names: Record<string, string> = {
    composition: "composition:strict",
    "jpeg-compressibility": "jpeg-compressibility",
    brightness: "brightness",
    random: "random",
    http: "http",
  };
  assert.deepEqual(Object.keys(REWARDS).sort(), Object.keys(names).sort());
  for (const kind of Object.keys(REWARDS)) {
    const term = REWARD_TERM.read(
      kind === "http" ? { kind, url: "http://127.0.0.1:9/score" } : { kind },
      "reward[0]",
    );
    assert.equal(term.kind, kind);
    assert.equal(term.weight, 1, "the weight every term has, default 1");
    assert.equal(createReward(term).name, names[kind], kind);
  }
  assert.deepEqual(REWARD_TERM.read({ kind: "composition", mode: "dense", weight: 2 }, "r"), {
    kind: "composition",
    mode: "dense",
    weight: 2,
  });
});

Deno.test("reward registry: a kind's fields are its own; errors name the term", () => {
  const error = (value: unknown) => {
    try {
      REWARD_TERM.read(value, "reward[1]");
    } catch (e) {
      assert.ok(e instanceof FieldError, `${e}`);
      return e.message;
    }
    assert.fail("no error");
  };
  assert.match(error({ kind: "clip" }), /^reward\[1\]\.kind must be one of "composition", /);
  assert.match(error({ kind: "brightness", mode: "strict" }), /^reward\[1\]\.mode is not a known/);
  assert.match(error({ kind: "http" }), /^reward\[1\]\.url must be a non-empty string/);
  assert.match(error({ kind: "http", url: "not a url" }), /^reward\[1\]\.url must be a URL/);
});

Deno.test("reward registry: several terms are summed with their weights", () => {
  const sum = buildReward([
    { kind: "brightness", weight: 0.5 },
    { kind: "random", weight: 0.5 },
  ]);
  assert.equal(sum.name, "0.5*brightness+0.5*random");
  assert.deepEqual(sum.range, [0, 1]);
  assert.equal(buildReward([{ kind: "brightness", weight: 1 }]).name, "brightness");
});

Deno.test("reward registry: every kind scores each image on its own, so slices score as the batch", async () => {
  const examples = ["a red circle", "two squares", "a blue square left of a green triangle"]
    .flatMap((prompt, i) => [renderPrompt(prompt, i), renderPrompt(prompt, i + 10)]);
  // a mismatched pair too: the third image with the first prompt
  const images = [...examples.map((e) => e.image), examples[2].image];
  const prompts = [...examples.map((e) => e.prompt), examples[0].prompt];
  const terms = [
    ...COMPOSITION_MODES.map((mode) => ({ kind: "composition" as const, mode, weight: 1 })),
    ...(["jpeg-compressibility", "brightness", "random"] as const).map((kind) => ({
      kind,
      weight: 1,
    })),
  ]; // http: per image by contract, the server's to keep
  for (const term of terms) {
    const reward = createReward(term);
    const whole = await reward.score(images, prompts);
    const slices = [
      ...await reward.score(images.slice(0, 3), prompts.slice(0, 3)),
      ...await reward.score(images.slice(3), prompts.slice(3)),
    ];
    assert.deepEqual([...whole], slices, reward.name);
    assert.ok(new Set(whole).size > 1, `${reward.name} tells the images apart`);
  }
});
