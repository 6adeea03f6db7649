import assert from "node:assert/strict";
import { FieldError } from "../../../cli/readers.ts";
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
