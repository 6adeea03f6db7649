import assert from "node:assert/strict";
import {
  SHAPES_VOCABULARY,
  SHAPES_VOCABULARY_VERSION,
  shapesTokenizer,
} from "../../../src/text.ts";
import { meanFlowConfig, scmConfig } from "../../../trainer/model/config.ts";
import { readOnnxModel } from "../../../trainer/model/onnx_read.ts";
import { TfFlowMap } from "../../../trainer/model/tfjs.ts";
import { MIDPOINTS, twoStepGrid } from "../../../trainer/pretrain/bundle.ts";
import { type HostInputs, maxAbsDiff, runOrt, runTf } from "../../_model.ts";
import { NormalStream } from "../../../src/rng.ts";

const bundles = [
  { directory: "shapes-meanflow", config: meanFlowConfig },
  { directory: "shapes-scm", config: scmConfig },
];

for (const { directory, config } of bundles) {
  Deno.test(`bundled ${directory}: metadata, card, and ONNX Runtime equals TF.js`, async () => {
    const base = new URL(`../../../src/models/${directory}/`, import.meta.url);
    const model = await Deno.readFile(new URL("model.onnx", base));
    const externalData = await Deno.readFile(new URL("model.bin", base));
    assert.ok(model.length + externalData.length < 12e6, "bundle stays under 12 MB");
    const contents = readOnnxModel(model, externalData);
    const meta = contents.metadata;
    assert.deepEqual(contents.config, config);
    assert.equal(meta.kind, config.kind);
    assert.equal(meta.path, config.path.name);
    assert.equal(Number(meta.sigma_d), config.path.sigmaD);
    assert.equal(meta.external_data, "model.bin");
    const grid = JSON.parse(meta.default_grid);
    assert.ok(
      MIDPOINTS.some((f) => twoStepGrid(config, f).join() === grid.join()),
      `default grid ${grid} is one of the swept two-step grids`,
    );
    assert.equal(meta.default_steps, "2");
    assert.deepEqual(JSON.parse(meta.tokenizer), {
      version: SHAPES_VOCABULARY_VERSION,
      maxTokens: config.textLength,
      vocabulary: SHAPES_VOCABULARY,
    });
    const card = await Deno.readTextFile(new URL("card.md", base));
    assert.match(
      card,
      /\| 2 \| [^|]+ \| [\d.]+ % \| [\d.]+ % \| \d+ \|/,
      "card has measured K = 2 row",
    );
    await Deno.stat(new URL("samples.png", base));

    const tfModel = new TfFlowMap(contents.config, contents.parameters, { trainable: false });
    const tMax = config.path.name === "trigflow" ? grid[0] : 1;
    const inputs: HostInputs = {
      batch: 2,
      x: new NormalStream(7).fill(new Float32Array(2 * 3 * 32 * 32)),
      t: Float32Array.of(tMax, 0.4 * tMax),
      r: config.kind === "two-time" ? Float32Array.of(0, 0.1) : undefined,
      tokens: shapesTokenizer.encodeBatch([
        "a red circle",
        "two blue squares above a green triangle",
      ]),
    };
    const expected = runTf(tfModel, inputs);
    tfModel.dispose();
    const files = { model, externalData, externalDataFile: "model.bin", metadata: meta };
    const actual = await runOrt(contents.config, files, inputs);
    const diff = maxAbsDiff(actual, expected);
    assert.ok(diff <= 1e-4, `ONNX Runtime vs TF.js max |diff| ${diff}`);
  });
}
