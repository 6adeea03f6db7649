import assert from "node:assert/strict";
import onnxProto from "onnx-proto";
import { MODEL_IO, type StoredLoraTarget } from "../../../src/onnx/model_info.ts";
import { emitOnnx } from "../../../trainer/model/onnx.ts";
import { readOnnxModel } from "../../../trainer/model/onnx_read.ts";
import { initParameters, modelLayout, size } from "../../../trainer/model/parameters.ts";
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

const grids = { "two-time": [1, 0.5, 0], "one-time": [1.5, 1.1, 0] };

for (const config of tinyConfigs) {
  Deno.test(`model ${config.kind}: TF.js and ONNX Runtime (node, web) agree within 1e-4 (batch 3)`, async () => {
    const parameters = randomParameters(config, 11);
    const files = emitOnnx(config, parameters, {
      name: `tiny-${config.kind}`,
      tokenizer: fakeTokenizer(config),
      defaultGrid: grids[config.kind],
    });
    const model = new TfFlowMap(config, parameters);
    try {
      const inputs = randomInputs(config, 3, 5);
      const expected = runTf(model, inputs);
      assert.ok(expected.some((v) => Math.abs(v) > 0.1), "outputs are not trivially small");
      for (const runtime of ["node", "web"] as const) {
        const error = maxAbsDiff(await runOrt(config, files, inputs, { runtime }), expected);
        assert.ok(error <= 1e-4, `onnxruntime-${runtime}: max abs error ${error}`);
      }
    } finally {
      model.dispose();
    }
  });

  Deno.test(`model ${config.kind}: metadata follows the model-file contract`, () => {
    const parameters = initParameters(config, 3);
    const files = emitOnnx(config, parameters, {
      name: "m",
      tokenizer: fakeTokenizer(config),
      defaultGrid: grids[config.kind],
    });
    const m = files.metadata;
    assert.equal(m.kind, config.kind);
    assert.equal(m.path, config.path.name);
    assert.equal(Number(m.sigma_d), config.path.sigmaD);
    assert.deepEqual(JSON.parse(m.image_shape), [3, 32, 32]);
    assert.deepEqual(JSON.parse(m.tokenizer), fakeTokenizer(config));
    assert.equal(m.default_steps, "2");
    assert.deepEqual(JSON.parse(m.default_grid), grids[config.kind]);
    assert.equal(m.external_data, "m.bin");
    assert.deepEqual(JSON.parse(m.config), config);
    const decoded = onnxProto.onnx.ModelProto.decode(files.model);
    assert.deepEqual(
      Object.fromEntries(decoded.metadataProps.map((p) => [p.key, p.value])),
      files.metadata,
    );
    assert.deepEqual(decoded.graph?.input?.map((i) => i.name), MODEL_IO[config.kind].inputs);
    assert.deepEqual(decoded.graph?.output?.map((o) => o.name), [MODEL_IO[config.kind].output]);
    assert.equal(m.shift, undefined, "no shift entry unless one is given");
    const shifted = emitOnnx(config, parameters, {
      name: "m",
      tokenizer: fakeTokenizer(config),
      defaultGrid: grids[config.kind],
      shift: 1,
    });
    assert.equal(shifted.metadata.shift, "1");
  });

  Deno.test(`model ${config.kind}: external data holds every parameter, weights as Wᵀ`, () => {
    const parameters = randomParameters(config, 2);
    const files = emitOnnx(config, parameters, {
      name: "m",
      tokenizer: fakeTokenizer(config),
      defaultGrid: grids[config.kind],
    });
    const layout = modelLayout(config);
    const total = layout.parameters.reduce((sum, p) => sum + 4 * size(p.shape), 0);
    assert.equal(files.externalData.length, total);
    const targets = JSON.parse(files.metadata.lora_targets) as StoredLoraTarget[];
    assert.deepEqual(targets.map((t) => t.module), layout.linears.map((l) => l.module));
    const view = new DataView(files.externalData.buffer);
    for (const target of targets) {
      assert.equal(target.length, 4 * target.inFeatures * target.outFeatures);
      const w = parameters.get(`${target.module}.weight`)!;
      // Wᵀ[i, o] lives at offset + 4·(i·out + o); W is [out, in].
      const [i, o] = [target.inFeatures - 1, 0];
      const stored = view.getFloat32(target.offset + 4 * (i * target.outFeatures + o), true);
      assert.equal(stored, w.data[o * target.inFeatures + i], target.module);
    }
    const read = readOnnxModel(files.model, files.externalData);
    assert.deepEqual(read.config, config);
    for (const [name, tensor] of parameters) {
      assert.deepEqual(read.parameters.get(name)?.shape, tensor.shape, name);
      assert.deepEqual(read.parameters.get(name)?.data, tensor.data, name);
    }
  });
}

Deno.test("model: emitter rejects mismatched tokenizers, grids and names", () => {
  const config = tinyConfigs[0];
  const parameters = initParameters(config, 0);
  const options = { name: "m", tokenizer: fakeTokenizer(config), defaultGrid: [1, 0] };
  const short = { ...fakeTokenizer(config), vocabulary: ["<pad>"] };
  assert.throws(() => emitOnnx(config, parameters, { ...options, tokenizer: short }), /vocabSize/);
  assert.throws(() => emitOnnx(config, parameters, { ...options, defaultGrid: [1, 0.5] }), /end/);
  assert.throws(() => emitOnnx(config, parameters, { ...options, name: "../m" }), /file name/);
  assert.throws(() => emitOnnx(config, parameters, { ...options, shift: 0 }), /shift factor/);
  assert.throws(
    () => emitOnnx(tinyConfigs[1], initParameters(tinyConfigs[1], 0), { ...options, shift: 2 }),
    /TrigFlow grids are angular/,
  );
  const missing = new Map(parameters);
  missing.delete("proj_out.bias");
  assert.throws(() => emitOnnx(config, missing, options), /proj_out.bias is missing/);
});
