/**
 * The edge path: with `runtime: "web"`, mod.ts loads a model and generates in
 * a process that may only read the model directory and node_modules — no
 * FFI, no network, no environment — and matches onnxruntime-node within 1e-4
 * before quantisation.
 */
import assert from "node:assert/strict";
import { loadModel, sample } from "../../../mod.ts";
import { maxAbsDiff } from "../../_model.ts";
import { runDeno, tinyModels } from "../../_fixtures.ts";

const PROMPTS = ["two red circles", "a blue square above a green triangle"];

Deno.test("web runtime: mod.ts runs without --allow-ffi and matches node within 1e-4", async () => {
  const models = await tinyModels();
  for (const kind of ["two-time", "one-time"] as const) {
    const { path } = models[kind];
    const script = `
      import { generate, loadModel, sample } from "./mod.ts";
      const ffi = (await Deno.permissions.query({ name: "ffi" })).state;
      const model = await loadModel(${JSON.stringify(path)}, { runtime: "web", threads: 1 });
      const prompts = ${JSON.stringify(PROMPTS)};
      const x = await sample(model.flowMap, {
        shape: [2, ...model.info.imageShape], seed: 4, grid: model.info.defaultGrid,
        cond: model.encodePrompts(prompts),
      });
      const images = await generate(model, { prompts, seed: 4 });
      await model.dispose();
      const bytes = new Uint8Array(x.data.buffer);
      let text = "";
      for (const b of bytes) text += String.fromCharCode(b);
      console.log(JSON.stringify({ ffi, runtime: model.runtime, x: btoa(text), pixels: images[1].data.length }));
    `;
    const nodeModules = new URL("../../../node_modules", import.meta.url).pathname;
    const child = await runDeno([
      "run",
      "--no-prompt",
      "--no-lock",
      `--allow-read=${models.dir},${nodeModules}`,
      "-",
    ], script);
    assert.equal(child.code, 0, child.stderr);
    const result = JSON.parse(child.stdout);
    assert.notEqual(result.ffi, "granted");
    assert.equal(result.runtime, "web");
    assert.equal(result.pixels, 32 * 32 * 3);
    const web = new Float32Array(Uint8Array.from(atob(result.x), (c) => c.charCodeAt(0)).buffer);

    await using model = await loadModel(path, { runtime: "node" });
    const node = await sample(model.flowMap, {
      shape: [2, ...model.info.imageShape],
      seed: 4,
      grid: model.info.defaultGrid,
      cond: model.encodePrompts(PROMPTS),
    });
    const error = maxAbsDiff(web, node.data);
    assert.ok(error <= 1e-4, `${kind}: web vs node max abs error ${error}`);
  }
});

Deno.test("node runtime without --allow-ffi: one clear line pointing to the web runtime", async () => {
  const models = await tinyModels();
  const nodeModules = new URL("../../../node_modules", import.meta.url).pathname;
  const child = await runDeno(
    [
      "run",
      "--no-prompt",
      "--no-lock",
      `--allow-read=${models.dir},${nodeModules}`,
      "-",
    ],
    `
    import { loadModel } from "./mod.ts";
    try {
      await loadModel(${JSON.stringify(models["two-time"].path)}, { runtime: "node" });
    } catch (error) {
      console.log(JSON.stringify({ name: error.name, message: error.message }));
    }
  `,
  );
  assert.equal(child.code, 0, child.stderr);
  const { name, message } = JSON.parse(child.stdout);
  assert.equal(name, "ModelError");
  assert.match(message, /cannot load onnxruntime-node .*--allow-ffi.*runtime: "web"/);
  assert.ok(!message.includes("\n"), message);
});
