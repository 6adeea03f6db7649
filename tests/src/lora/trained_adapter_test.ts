/**
 * Adapter round trip: a LoRA adapter trained in TF.js, exported under PEFT
 * keys and written as safetensors, merged by the SDK, gives the trainer's
 * LoRA forward (within 1e-4); removing adapters restores the base exactly.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  encodeLoraAdapter,
  loadModel,
  LoraError,
  type LoraModule,
  type Model,
  type TwoTimeFlowMap,
} from "../../../mod.ts";
import { NormalStream } from "../../../src/rng.ts";
import { LoraAdapter } from "../../../trainer/model/lora.ts";
import { TfFlowMap } from "../../../trainer/model/tfjs.ts";
import { maxAbsDiff, randomInputs, runTf } from "../../_model.ts";
import { tinyModels } from "../../_fixtures.ts";

function randomizeB(lora: LoraAdapter): void {
  [...lora.b.values()].forEach((b, i) => {
    const data = new NormalStream(5, i).fill(new Float32Array(b.size)).map((v) => 0.2 * v);
    b.assign(tf.tensor(data, b.shape));
  });
}

async function evaluate(model: Model, inputs: ReturnType<typeof randomInputs>) {
  const x = { data: inputs.x, shape: [inputs.batch, 3, 32, 32] };
  // One time per call: the tiny inputs use the same t (and r) for the batch.
  const map = model.flowMap;
  return map.kind === "two-time"
    ? await (map as TwoTimeFlowMap<Int32Array>).average(x, inputs.r![0], inputs.t[0], inputs.tokens)
    : await map.endpoint(x, inputs.t[0], inputs.tokens);
}

for (const kind of ["two-time", "one-time"] as const) {
  Deno.test(`adapters ${kind}: a TF.js-exported adapter merged here equals the trainer's LoRA forward`, async () => {
    const { path, config, parameters } = (await tinyModels())[kind];
    const tfModel = new TfFlowMap(config, parameters, { trainable: false });
    const lora = new LoraAdapter(config, {
      rank: 4,
      alpha: 8,
      targets: ["to_q", "to_v", "to_out.0", "add_k_proj", "ff.net.2"],
      seed: 2,
    });
    try {
      randomizeB(lora);
      const inputs = randomInputs(config, 1, 9);
      await using base = await loadModel(path, { threads: 1 });
      await using adapted = await base.withAdapters([{
        source: lora.safetensors({ trainer: "flow-map-grpo" }),
      }]);
      const served = await evaluate(adapted, inputs);
      const expected = runTf(tfModel, inputs, lora);
      assert.ok(maxAbsDiff(expected, runTf(tfModel, inputs)) > 1e-2, "the adapter matters");
      const error = maxAbsDiff(served, expected);
      assert.ok(error <= 1e-4, `max abs error ${error}`);

      const baseOutput = await evaluate(base, inputs);
      assert.ok(maxAbsDiff(baseOutput, runTf(tfModel, inputs)) <= 1e-4, "the base is untouched");
      await using restored = await adapted.withAdapters([]);
      assert.deepEqual(await evaluate(restored, inputs), baseOutput, "no adapters: exact base");
      await using off = await adapted.withAdapters([{
        source: lora.safetensors({ trainer: "flow-map-grpo" }),
        scale: 0,
      }]);
      assert.deepEqual(await evaluate(off, inputs), baseOutput, "scale 0: exact base");
    } finally {
      lora.dispose();
      tfModel.dispose();
    }
  });
}

Deno.test("adapters: files on disk with scales; mismatched adapters are refused by name", async () => {
  const models = await tinyModels();
  const { path, config } = models["two-time"];
  const lora = new LoraAdapter(config, { rank: 2, alpha: 2, targets: ["to_k"], seed: 1 });
  randomizeB(lora);
  const file = `${models.dir}/adapter.safetensors`;
  await Deno.writeFile(file, lora.safetensors({ trainer: "flow-map-grpo" }));
  lora.dispose();
  await using base = await loadModel(path);
  const inputs = randomInputs(config, 1, 3);
  await using once = await base.withAdapters([{ source: file, scale: 2 }]);
  await using twice = await base.withAdapters([{ source: file }, {
    source: new URL(`file://${file}`),
  }]);
  assert.ok(maxAbsDiff(await evaluate(once, inputs), await evaluate(twice, inputs)) <= 1e-5);

  const module = (name: string, inFeatures: number, outFeatures: number): LoraModule => ({
    module: name,
    rank: 1,
    inFeatures,
    outFeatures,
    alpha: 1,
    a: new Float32Array(inFeatures).fill(0.1),
    b: new Float32Array(outFeatures).fill(0.1),
  });
  const unknown = encodeLoraAdapter([module("transformer_blocks.7.attn.to_q", 32, 32)]);
  await assert.rejects(
    base.withAdapters([{ source: unknown }]),
    (error) =>
      error instanceof LoraError && error.code === "unknown_module" &&
      /no LoRA target for: transformer_blocks\.7\.attn\.to_q/.test(error.message),
  );
  const misshapen = encodeLoraAdapter([module("transformer_blocks.0.attn.to_q", 16, 32)]);
  await assert.rejects(
    base.withAdapters([{ source: misshapen }]),
    (error) =>
      error instanceof LoraError && error.code === "shape_mismatch" &&
      /transformer_blocks\.0\.attn\.to_q \(adapter \[in 16, out 32\]/.test(error.message),
  );
  await assert.rejects(
    base.withAdapters([{ source: `${models.dir}/none.safetensors` }]),
    /no such file/,
  );
});
