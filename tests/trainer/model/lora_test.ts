import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { LoraAdapter, matchLoraTargets } from "../../../trainer/model/lora.ts";
import type { StoredLoraTarget } from "../../../src/onnx/model_info.ts";
import { emitOnnx, transpose2d } from "../../../trainer/model/onnx.ts";
import { float32Bytes } from "../../../trainer/model/onnx_graph.ts";
import { TfFlowMap } from "../../../trainer/model/tfjs.ts";
import {
  fakeTokenizer,
  maxAbsDiff,
  randomInputs,
  randomParameters,
  runOrt,
  runTf,
  tinyConfigs,
} from "../../_model.ts";
import { NormalStream } from "../../../src/rng.ts";

const targets = ["to_q", "to_v", "to_out.0", "add_k_proj", "ff.net.2", /norm1_context\.linear$/];

/** Gives every B a random value so the adapter actually changes the model. */
function randomizeB(lora: LoraAdapter, seed: number): void {
  [...lora.b.values()].forEach((b, i) => {
    const data = new NormalStream(seed, i).fill(new Float32Array(b.size)).map((v) => 0.2 * v);
    b.assign(tf.tensor(data, b.shape));
  });
}

for (const config of tinyConfigs) {
  Deno.test(`lora ${config.kind}: TF.js adapter equals merged weights patched into ONNX`, async () => {
    const base = randomParameters(config, 21);
    const model = new TfFlowMap(config, base, { trainable: false });
    const lora = new LoraAdapter(config, { rank: 4, alpha: 8, targets, seed: 3 });
    try {
      randomizeB(lora, 9);
      const inputs = randomInputs(config, 2, 4);
      const adapted = runTf(model, inputs, lora);
      assert.ok(maxAbsDiff(adapted, runTf(model, inputs)) > 1e-2, "the adapter changes outputs");

      const files = emitOnnx(config, base, {
        name: "base",
        tokenizer: fakeTokenizer(config),
        defaultGrid: config.kind === "two-time" ? [1, 0] : [1.5, 0],
      });
      const merged = lora.mergedParameters(base);
      const patched = files.externalData.slice();
      const entries = JSON.parse(files.metadata.lora_targets) as StoredLoraTarget[];
      for (const module of lora.modules.map((l) => l.module)) {
        const entry = entries.find((e) => e.module === module)!;
        const bytes = float32Bytes(transpose2d(merged.get(`${module}.weight`)!).data);
        assert.equal(bytes.length, entry.length);
        patched.set(bytes, entry.offset);
      }
      const served = await runOrt(config, files, inputs, { externalData: patched });
      const error = maxAbsDiff(served, adapted);
      assert.ok(error <= 1e-4, `max abs error ${error}`);
    } finally {
      lora.dispose();
      model.dispose();
    }
  });
}

Deno.test("lora: a fresh adapter is the identity and only LoRA weights get gradients", () => {
  const config = tinyConfigs[0];
  const model = new TfFlowMap(config, randomParameters(config, 1), { trainable: false });
  const lora = new LoraAdapter(config, { rank: 2, alpha: 2, targets: ["to_q", "to_k"] });
  try {
    const inputs = randomInputs(config, 2, 8);
    assert.deepEqual(runTf(model, inputs, lora), runTf(model, inputs));
    const x = tf.tensor4d(inputs.x, [2, 3, 32, 32]);
    const { grads } = tf.variableGrads(() =>
      tf.mean(tf.square(model.forward({
        x,
        t: tf.tensor1d(inputs.t),
        r: tf.tensor1d(inputs.r!),
        tokens: tf.tensor2d(inputs.tokens, [2, config.textLength], "int32"),
      }, lora))) as tf.Scalar
    );
    const trainable = new Set(lora.variables.map((v) => v.name));
    assert.deepEqual(new Set(Object.keys(grads)), trainable);
    assert.equal(trainable.size, 2 * 2 * config.depth);
    // B = 0, so only B receives a non-zero gradient at the start.
    const bNames = new Set([...lora.b.values()].map((v) => v.name));
    for (const [name, grad] of Object.entries(grads)) {
      const norm = tf.norm(grad).dataSync()[0];
      assert.ok(bNames.has(name) ? norm > 0 : norm === 0, `${name}: gradient norm ${norm}`);
    }
    tf.dispose([x, ...Object.values(grads)]);
  } finally {
    lora.dispose();
    model.dispose();
  }
});

Deno.test("lora: export uses PEFT keys and shapes; targets are matched like PEFT", () => {
  const config = tinyConfigs[1];
  const lora = new LoraAdapter(config, { rank: 3, alpha: 6, targets: ["to_out.0", "ff.net.2"] });
  try {
    const exported = lora.export();
    assert.equal(exported.alpha, 6);
    assert.equal(exported.rank, 3);
    assert.equal(lora.scaling, 2);
    assert.deepEqual(exported.modules, [
      "transformer_blocks.0.attn.to_out.0",
      "transformer_blocks.0.ff.net.2",
      "transformer_blocks.1.attn.to_out.0",
      "transformer_blocks.1.ff.net.2",
    ]);
    const d = config.hiddenDim, mlp = d * config.mlpRatio;
    assert.deepEqual(exported.tensors.get("transformer_blocks.0.ff.net.2.lora_A.weight")?.shape, [
      3,
      mlp,
    ]);
    assert.deepEqual(exported.tensors.get("transformer_blocks.0.ff.net.2.lora_B.weight")?.shape, [
      d,
      3,
    ]);
    assert.ok(
      exported.tensors.get("transformer_blocks.1.attn.to_out.0.lora_B.weight")?.data.every((v) =>
        v === 0
      ),
    );
    assert.equal(exported.tensors.size, 8);
  } finally {
    lora.dispose();
  }
  // "net.2" matches ff.net.2 and ff_context.net.2, not "ff.net.0.proj"
  assert.equal(matchLoraTargets(config, ["net.2"]).length, 2 * config.depth - 1); // last block: no ff_context
  assert.equal(matchLoraTargets(config, ["ff.net.2"]).length, config.depth);
  assert.throws(() => matchLoraTargets(config, ["to_qq"]), /to_qq matches no linear module/);
  assert.throws(() => new LoraAdapter(config, { rank: 0, alpha: 1, targets: ["to_q"] }), /rank/);
});
