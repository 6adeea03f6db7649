import assert from "node:assert/strict";
import { parseSafetensors } from "../../src/lora/safetensors.ts";
import { encodeCheckpoint } from "../../trainer/checkpoint.ts";
import { decodeRunState, encodeRunState } from "../../trainer/run_state.ts";

const state = {
  iteration: 7,
  seed: 3,
  names: ["a.lora_A.weight", "a.lora_B.weight"],
  shapes: [[1, 2], [2, 1]],
  weights: [Float32Array.of(0.1, 0.2), Float32Array.of(-1, 1e-30)],
  ema: [Float32Array.of(0.05, 0.1), Float32Array.of(0, 0)],
  optimizerStep: 12,
  m: [Float64Array.of(Math.PI, 1e-300), Float64Array.of(0, -0)],
  v: [Float64Array.of(1, 2), Float64Array.of(3, 4)],
};

Deno.test("run state: round-trips float32 weights and float64 moments exactly", () => {
  assert.deepEqual(decodeRunState(encodeRunState(state)), state);
});

Deno.test("run state: tensor names and metadata are those of earlier runs' checkpoints", () => {
  const file = parseSafetensors(encodeRunState(state));
  assert.deepEqual([...file.tensors.keys()].sort(), [
    "adam_m/a.lora_A.weight",
    "adam_m/a.lora_B.weight",
    "adam_v/a.lora_A.weight",
    "adam_v/a.lora_B.weight",
    "ema/a.lora_A.weight",
    "ema/a.lora_B.weight",
    "weights/a.lora_A.weight",
    "weights/a.lora_B.weight",
  ]);
  assert.equal(file.tensors.get("adam_v/a.lora_B.weight")?.dtype, "F64");
  assert.deepEqual(JSON.parse(file.metadata.flow_map_grpo_state), {
    iteration: 7,
    seed: 3,
    optimizerStep: 12,
    names: state.names,
  });
});

Deno.test("run state: another checkpoint or a missing tensor is refused by name", () => {
  assert.throws(
    () => decodeRunState(encodeCheckpoint({ tables: new Map(), metadata: {} })),
    /not a trainer checkpoint/,
  );
  const bytes = encodeCheckpoint({
    tables: new Map(),
    metadata: { flow_map_grpo_state: JSON.stringify({ ...state, weights: undefined }) },
  });
  assert.throws(() => decodeRunState(bytes), /no tensor weights\/a\.lora_A\.weight/);
});
