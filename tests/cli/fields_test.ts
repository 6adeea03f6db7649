import assert from "node:assert/strict";
import { defaults, fieldDocs, fields, knownKeys, section, union } from "../../cli/fields.ts";
import { FieldError, integer, list, number, oneOf } from "../../cli/readers.ts";
import { DEFAULTS, TRAIN_CONFIG, validateTrainConfig } from "../../trainer/config.ts";

const RUN = fields({
  iterations: { type: integer({ min: 1 }), default: 100, doc: "Iterations." },
  lr: { type: number({ min: 0, open: "min" }), default: 3e-4, doc: "Learning rate." },
  steps: { type: list(integer({ min: 1 })), default: [1, 2], doc: "Step counts." },
  grid: { type: list(number()), optional: true, doc: "A grid." },
  anchor: {
    type: union("kind", {
      endpoint: fields({ eta: { type: number(), default: 1, doc: "η." } }),
      local: fields({ delta: { type: number(), default: 0.01, doc: "δ." } }),
    }),
    doc: "The transition.",
  },
  inner: {
    type: section(fields({ mode: { type: oneOf(["a", "b"]), default: "a", doc: "Mode." } })),
    doc: "A section.",
  },
});

/** The FieldError a read throws. */
function fieldError(read: () => unknown): FieldError {
  try {
    read();
  } catch (error) {
    assert.ok(error instanceof FieldError, `${error}`);
    return error;
  }
  assert.fail("no error");
}

Deno.test("fields: defaults and known keys derive from the declaration", () => {
  assert.deepEqual(knownKeys(RUN), ["iterations", "lr", "steps", "grid", "anchor", "inner"]);
  assert.deepEqual(defaults(RUN), {
    iterations: 100,
    lr: 3e-4,
    steps: [1, 2],
    anchor: { endpoint: { eta: 1 }, local: { delta: 0.01 } },
    inner: { mode: "a" },
  });
  const read = section(RUN).read({ anchor: { kind: "local" } }, "");
  assert.deepEqual(read, {
    iterations: 100,
    lr: 3e-4,
    steps: [1, 2],
    anchor: { kind: "local", delta: 0.01 },
    inner: { mode: "a" },
  });
  assert.ok(!("grid" in read), "an absent optional field stays absent");
  // the trainer's defaults are its declaration's
  assert.deepEqual(knownKeys(TRAIN_CONFIG).slice(0, 3), ["name", "model", "lora"]);
  assert.deepEqual((DEFAULTS.optimizer as { betas: number[] }).betas, [0.9, 0.999]);
  const minimal = validateTrainConfig({
    name: "t",
    model: { onnx: "m.onnx" },
    rollout: { anchor: { kind: "endpoint" } },
    reward: [{ kind: "brightness" }],
  });
  assert.deepEqual(minimal.eval, DEFAULTS.eval);
});

Deno.test("fields: a bad value names its path, its problem and the rule", () => {
  const run = section(RUN, { label: "config" });
  const cases: [unknown, string, string, string][] = [
    [{ iterations: 0 }, "iterations", "out_of_range", "iterations must be an integer ≥ 1, got 0"],
    [
      { iterations: "5" },
      "iterations",
      "invalid_type",
      'iterations must be an integer ≥ 1, got "5"',
    ],
    [{ lr: 0 }, "lr", "out_of_range", "lr must be > 0, got 0"],
    [{ steps: [1, 0] }, "steps[1]", "out_of_range", "steps[1] must be an integer ≥ 1, got 0"],
    [{ anchor: { kind: "sde" } }, "anchor.kind", "invalid_value", "anchor.kind must be one of"],
    [
      { anchor: { kind: "endpoint", delta: 1 } },
      "anchor.delta",
      "unknown_field",
      "anchor.delta is not a known field (known: kind, eta)",
    ],
    [{ anchor: { kind: "local" }, inner: { mode: "c" } }, "inner.mode", "invalid_value", "inner"],
    [{ anchor: { kind: "local" }, extra: 1 }, "config.extra", "unknown_field", "config.extra"],
    [[], "config", "invalid_type", "config must be an object, got []"],
  ];
  for (const [value, path, problem, message] of cases) {
    const error = fieldError(() => run.read(value, ""));
    assert.equal(error.path, path, error.message);
    assert.equal(error.problem, problem, error.message);
    assert.ok(error.message.startsWith(message), `${error.message} ≠ ${message}…`);
  }
  const missing = fieldError(() => run.read({}, ""));
  assert.equal(missing.message, "anchor must be an object, got nothing");
});

Deno.test("fields: the docs list every field, its rule and default, variants included", () => {
  assert.deepEqual(fieldDocs(RUN), [
    "iterations: an integer ≥ 1, default 100. Iterations.",
    "lr: a number > 0, default 0.0003. Learning rate.",
    "steps: an array, each an integer ≥ 1, default [1,2]. Step counts.",
    "grid: an array, each a finite number, optional. A grid.",
    'anchor: an object with kind one of "endpoint", "local". The transition.',
    "anchor<endpoint>.eta: a finite number, default 1. η.",
    "anchor<local>.delta: a finite number, default 0.01. δ.",
    "inner: an object. A section.",
    'inner.mode: one of "a", "b", default "a". Mode.',
  ]);
});
