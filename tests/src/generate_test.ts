import assert from "node:assert/strict";
import {
  encodeImage,
  generate,
  type Image,
  loadModel,
  shapesTokenizer,
  shiftedGrid,
} from "../../mod.ts";
import { emitOnnx } from "../../trainer/model/onnx.ts";
import { DEFAULT_GRIDS, runDeno, tinyModels } from "../_fixtures.ts";

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

const pngHashes = (images: Image[]) =>
  Promise.all(images.map(async (image) => sha256(await encodeImage(image, "png"))));

for (const kind of ["two-time", "one-time"] as const) {
  Deno.test(`generate ${kind}: byte-identical PNGs across runs, batch sizes and processes`, async () => {
    const { path } = (await tinyModels())[kind];
    await using model = await loadModel(path);
    const prompt = "two red circles";
    const batch = await generate(model, { prompt, n: 3, seed: 7, steps: 2 });
    assert.equal(batch.length, 3);
    assert.deepEqual(
      [batch[0].width, batch[0].height, batch[0].channels, batch[0].data.length],
      [32, 32, 3, 32 * 32 * 3],
    );
    const hashes = await pngHashes(batch);
    assert.equal(new Set(hashes).size, 3, "different seeds give different images");
    assert.deepEqual(
      await pngHashes(await generate(model, { prompt, n: 3, seed: 7, steps: 2 })),
      hashes,
    );
    for (const i of [0, 2]) {
      const [alone] = await generate(model, { prompt, seed: 7 + i, steps: 2 });
      assert.equal((await pngHashes([alone]))[0], hashes[i], `image ${i} drawn alone`);
    }
    const mixed = await generate(model, { prompts: ["a blue square", prompt], seed: 6, steps: 2 });
    assert.equal((await pngHashes(mixed))[1], hashes[0], "a prompt list batches per image too");

    const script = `
      import { encodeImage, generate, loadModel } from "./mod.ts";
      const model = await loadModel(${JSON.stringify(path)});
      const [image] = await generate(model, { prompt: ${
      JSON.stringify(prompt)
    }, seed: 8, steps: 2 });
      const png = await encodeImage(image, "png");
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", png));
      console.log(Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""));
      await model.dispose();
    `;
    const child = await runDeno(["run", "-A", "--no-lock", "-"], script);
    assert.equal(child.code, 0, child.stderr);
    assert.equal(child.stdout.trim(), hashes[1], "another process draws the same image");
  });
}

Deno.test("generate: steps and grids; the default grid is the model's", async () => {
  await using model = await loadModel((await tinyModels())["two-time"].path);
  const prompt = "a green triangle";
  const byDefault = await generate(model, { prompt });
  assert.deepEqual(await generate(model, { prompt, steps: 2 }), byDefault);
  assert.deepEqual(await generate(model, { prompt, grid: [1, 0.5, 0] }), byDefault);
  assert.notDeepEqual(await generate(model, { prompt, grid: [1, 0.8, 0] }), byDefault);
  assert.notDeepEqual(await generate(model, { prompt, steps: 1 }), byDefault);
  const diverse = await generate(model, { prompt, steps: 2, stochastic: { kind: "endpoint" } });
  assert.notDeepEqual(diverse, byDefault);
  const shifted = await generate(model, { prompt, steps: 3, shift: 3 });
  assert.deepEqual(shifted, await generate(model, { prompt, grid: shiftedGrid(3, 3) }));
  assert.notDeepEqual(shifted, await generate(model, { prompt, steps: 3 }));
  assert.deepEqual(
    await generate(model, { prompt, shift: 3 }),
    await generate(model, { prompt, grid: shiftedGrid(2, 3) }),
    "a shift builds the K-step grid even at the default K",
  );
});

Deno.test("generate: a model's recorded shift shapes its K-step grids", async () => {
  const { config, parameters, path } = (await tinyModels())["two-time"];
  const files = emitOnnx(config, parameters, {
    name: "model",
    tokenizer: shapesTokenizer,
    defaultGrid: DEFAULT_GRIDS["two-time"],
    shift: 3,
  });
  await using model = await loadModel(path);
  await using restamped = await loadModel({ model: files.model, weights: files.externalData });
  const prompt = "a green triangle";
  assert.equal(restamped.info.shift, 3);
  assert.deepEqual(
    await generate(restamped, { prompt, steps: 4 }),
    await generate(model, { prompt, steps: 4, shift: 3 }),
  );
  assert.deepEqual(
    await generate(restamped, { prompt }),
    await generate(model, { prompt }),
    "the default grid does not move",
  );
});

Deno.test("generate: bad options are refused clearly", async () => {
  await using model = await loadModel((await tinyModels())["one-time"].path);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /either prompt \(with n\) or prompts/],
    [{ prompt: "a", prompts: ["a"] }, /either prompt \(with n\) or prompts/],
    [{ prompts: ["a"], n: 2 }, /n applies to prompt/],
    [{ prompts: [] }, /non-empty list of strings/],
    [{ prompt: "a", n: 0 }, /n must be a positive integer/],
    [{ prompt: "a", steps: 0 }, /steps/],
    [{ prompt: "a", steps: 3, grid: [1.5, 0] }, /steps 3 disagrees with a grid of 1 steps/],
    [{ prompt: "a", grid: [2, 0] }, /outside the trigflow time range/],
    [{ prompt: "a", seed: -1 }, /seed must be a non-negative safe integer/],
    [{ prompt: "a", stochastic: { kind: "local" } }, /local anchor needs a two-time/],
    [{ prompt: "a", stochastic: { kind: "endpoint", delta: 0.1 } }, /takes eta; got delta/],
    [{ prompt: "a", steps: 3, shift: 3 }, /TrigFlow grids are angular and take no shift/],
    [{ prompt: "a", grid: [1.5, 0], shift: 1 }, /applies to a built grid/],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(generate(model, options as never), message, JSON.stringify(options));
  }
});
