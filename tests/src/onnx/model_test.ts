import assert from "node:assert/strict";
import { loadModel, type Model, ModelError } from "../../../mod.ts";
import { NormalStream } from "../../../src/rng.ts";
import { tinyModels } from "../../_fixtures.ts";

const x = {
  data: new NormalStream(3).fill(new Float32Array(2 * 3 * 32 * 32)),
  shape: [2, 3, 32, 32],
};

function evaluate(model: Model, cond?: Int32Array): Promise<Float32Array> {
  const map = model.flowMap;
  return map.kind === "two-time" ? map.average(x, 0.25, 0.75, cond) : map.endpoint(x, 0.75, cond);
}

Deno.test("load: path, file URL, http URL and bytes give the same model", async () => {
  const models = await tinyModels();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = `${models.dir}${new URL(request.url).pathname}`;
    try {
      return new Response(await Deno.readFile(path));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  try {
    for (const kind of ["two-time", "one-time"] as const) {
      const { path, files } = models[kind];
      const sources = [
        path,
        new URL(`file://${path}`),
        `http://127.0.0.1:${server.addr.port}/${kind}/model.onnx`,
        { model: files.model, weights: files.externalData },
      ];
      const outputs: Float32Array[] = [];
      for (const source of sources) {
        await using model = await loadModel(source);
        assert.equal(model.info.kind, kind);
        assert.equal(model.flowMap.kind, kind);
        assert.equal(model.runtime, "node");
        outputs.push(await evaluate(model, model.encodePrompts(["a red circle", "two squares"])));
      }
      assert.ok(outputs[0].some((v) => Math.abs(v) > 0.1), "outputs are not trivial");
      for (const output of outputs.slice(1)) assert.deepEqual(output, outputs[0]);
    }
    await assert.rejects(
      loadModel(`http://127.0.0.1:${server.addr.port}/nowhere/model.onnx`),
      /cannot fetch model file .*: HTTP 404/,
    );
    const unreachable = new URL("http://127.0.0.1:9/model.onnx"); // the discard port: refused
    await assert.rejects(
      loadModel(unreachable),
      (error) =>
        error instanceof ModelError &&
        error.message.startsWith(`cannot fetch model file ${unreachable}: `),
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("load: missing files, bad sources and options fail with one clear line", async () => {
  const models = await tinyModels();
  await assert.rejects(
    loadModel(`${models.dir}/nothing.onnx`),
    /cannot read model file .*no such file/,
  );
  const lonely = await Deno.makeTempFile({ dir: models.dir, suffix: ".onnx" });
  await Deno.writeFile(lonely, models["two-time"].files.model);
  await assert.rejects(loadModel(lonely), /cannot read weights file .*model\.bin: no such file/);
  await assert.rejects(
    loadModel({ model: new Uint8Array(1) } as never),
    /a model source is a path/,
  );
  const path = models["one-time"].path;
  await assert.rejects(
    loadModel(path, { runtime: "gpu" as never }),
    /runtime must be "node" or "web"/,
  );
  await assert.rejects(loadModel(path, { threads: 0 }), /threads must be a positive integer/);
  const { files } = models["two-time"];
  await assert.rejects(
    loadModel({ model: files.model, weights: files.externalData.subarray(0, 64) }),
    (error) => error instanceof ModelError && /cannot open the model/.test(error.message),
  );
});

Deno.test("load: the default is the bundled model, or a clear error naming the layout", async () => {
  const bundled = new URL("../../../src/models/shapes-meanflow/model.onnx", import.meta.url);
  const present = await Deno.stat(bundled).then(() => true, () => false);
  if (present) {
    await using model = await loadModel();
    assert.equal(model.info.kind, "two-time");
  } else {
    await assert.rejects(
      loadModel(),
      /bundled model shapes-meanflow is missing.*src\/models\/shapes-meanflow\/model\.onnx with model\.bin and card\.md/,
    );
  }
});

Deno.test("load: conditioning is checked; none means the empty prompt", async () => {
  await using model = await loadModel((await tinyModels())["two-time"].path, { threads: 1 });
  const empty = model.encodePrompts(["", ""]);
  assert.deepEqual(await evaluate(model), await evaluate(model, empty));
  await assert.rejects(evaluate(model, new Int32Array(3)), /Int32Array of 2 × 8 token ids/);
  await assert.rejects(evaluate(model, new Int32Array(16).fill(99)), /token id 99 at 0/);
  await assert.rejects(
    model.flowMap.kind === "two-time"
      ? model.flowMap.average({ data: new Float32Array(12), shape: [1, 3, 2, 2] }, 0, 1)
      : Promise.resolve(),
    /takes x of shape \[B, 3, 32, 32\], got \[1, 3, 2, 2\]/,
  );
  assert.throws(() => model.encodePrompts(["a red elephant"]), /unknown word "elephant"/);
});

Deno.test("load: dispose is idempotent and a disposed model refuses to run", async () => {
  const model = await loadModel((await tinyModels())["one-time"].path);
  await model.dispose();
  await model.dispose();
  await assert.rejects(evaluate(model), /this model was disposed/);
  assert.throws(() => model.encodePrompts(["a"]), /this model was disposed/);
  await assert.rejects(model.withAdapters([]), /this model was disposed/);
});
