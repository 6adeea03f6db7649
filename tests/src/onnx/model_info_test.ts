import assert from "node:assert/strict";
import onnxProto from "onnx-proto";
import { ModelError, parseModelInfo, readModelInfo } from "../../../mod.ts";
import { readOnnxMetadata } from "../../../src/onnx/protobuf.ts";
import { DEFAULT_GRIDS, tinyModels } from "../../_fixtures.ts";

const { onnx } = onnxProto;

Deno.test("metadata: the pure-JS reader returns exactly what the emitter wrote", async () => {
  const models = await tinyModels();
  for (const kind of ["two-time", "one-time"] as const) {
    const { files, config } = models[kind];
    assert.deepEqual(readOnnxMetadata(files.model), files.metadata);
    const info = readModelInfo(files.model);
    assert.equal(info.kind, kind);
    assert.equal(info.path.name, config.path.name);
    assert.equal(info.sigmaD, config.path.sigmaD);
    assert.deepEqual(info.imageShape, [3, 32, 32]);
    assert.deepEqual(info.defaultGrid, DEFAULT_GRIDS[kind]);
    assert.equal(info.defaultSteps, 2);
    assert.equal(info.externalData, "model.bin");
    assert.equal(info.tokenizer.maxTokens, config.textLength);
    const stored = JSON.parse(files.metadata.lora_targets);
    assert.equal(info.loraTargets.length, stored.length);
    assert.deepEqual(info.loraTargets[0].shape, [stored[0].inFeatures, stored[0].outFeatures]);
  }
});

Deno.test("metadata: the optional shift entry, 1 (uniform) when absent; none on TrigFlow", async () => {
  const models = await tinyModels();
  const twoTime = models["two-time"].files.metadata;
  assert.equal(twoTime.shift, undefined, "the bundled-style models record none");
  assert.equal(parseModelInfo(twoTime).shift, 1);
  assert.equal(parseModelInfo({ ...twoTime, shift: "3" }).shift, 3);
  const oneTime = models["one-time"].files.metadata;
  assert.equal(parseModelInfo({ ...oneTime, shift: "1" }).shift, 1);
  assert.throws(
    () => parseModelInfo({ ...oneTime, shift: "2" }),
    (error) =>
      error instanceof ModelError && /shift: TrigFlow grids are angular/.test(error.message),
  );
});

Deno.test("metadata: missing keys are all named; bad values are refused clearly", async () => {
  const { metadata } = (await tinyModels())["two-time"].files;
  assert.throws(
    () => parseModelInfo({ kind: "two-time" }),
    (error) =>
      error instanceof ModelError &&
      /lacks path, sigma_d, image_shape, tokenizer, default_steps, default_grid, lora_targets, external_data/
        .test(error.message),
  );
  const cases: [Record<string, string>, RegExp][] = [
    [{ kind: "three-time" }, /kind must be "two-time" or "one-time", got "three-time"/],
    [{ path: "diffusion" }, /path must be "rectified-flow" or "trigflow"/],
    [{ sigma_d: "2" }, /rectified flow needs sigma_d 1, got 2/],
    [{ image_shape: "[3, 32]" }, /image_shape must be \[channels, height, width\]/],
    [{ default_grid: "[1, 0.5]" }, /default_grid: grid must end at 0/],
    [{ default_grid: "not json" }, /default_grid is not JSON/],
    [{ default_steps: "3" }, /default_steps 3 disagrees with default_grid/],
    [{ tokenizer: "{}" }, /tokenizer: tokenizer metadata needs/],
    [{ external_data: "../weights.bin" }, /external_data must be a plain file name/],
    [{ lora_targets: '[{"module": "x"}]' }, /lora_targets\[0\] needs module, initializer/],
    [{ shift: "0.5" }, /shift: grid shift factor must be a finite number ≥ 1, got 0.5/],
    [{ shift: "steep" }, /shift: grid shift factor must be a finite number ≥ 1, got NaN/],
  ];
  for (const [change, message] of cases) {
    assert.throws(
      () => parseModelInfo({ ...metadata, ...change }),
      (error) => error instanceof ModelError && message.test(error.message),
      JSON.stringify(change),
    );
  }
});

Deno.test("metadata: bytes that are not an ONNX model are refused", async () => {
  const { model } = (await tinyModels())["one-time"].files;
  assert.throws(() => readModelInfo(model.subarray(0, 1000)), /not an ONNX model: malformed/);
  assert.throws(() => readModelInfo(new TextEncoder().encode("hello")), /not an ONNX model/);
  const bare = onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8 })).finish();
  assert.throws(() => readModelInfo(bare), /lacks kind, path/);
});
