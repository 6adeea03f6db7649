/**
 * The playground's pure pieces: query parameters and form fields checked
 * into a run or into messages naming the field, and the pixel hash and
 * comparison the page reports.
 */
import assert from "node:assert/strict";
import {
  parsePlaygroundFields,
  parsePlaygroundQuery,
  type PlaygroundBounds,
} from "../../../serve/playground/params.ts";
import { PlaygroundScript } from "../../../serve/playground/bundle.ts";
import {
  comparePixels,
  rgbaToRgb,
  rgbToRgba,
  sha256Hex,
} from "../../../serve/playground/pixels.ts";

const BOUNDS: PlaygroundBounds = {
  maxSteps: 8,
  maxImages: 8,
  maxPromptChars: 20,
  adapters: ["crisp"],
};

Deno.test("playground params: a query prefills the form and starts a run", () => {
  const query = parsePlaygroundQuery(
    new URLSearchParams("prompt=two+red+circles&seed=7&steps=2&runtime=browser&run=1"),
  );
  assert.deepEqual(query, {
    fields: { prompt: "two red circles", seed: "7", steps: "2", runtime: "browser" },
    run: true,
    errors: [],
  });
  const parsed = parsePlaygroundFields(query.fields, BOUNDS);
  assert.deepEqual(parsed, {
    ok: true,
    request: {
      prompt: "two red circles",
      steps: 2,
      seed: 7,
      n: 1,
      adapter: undefined,
      runtime: "browser",
    },
  });
  assert.equal(parsePlaygroundQuery(new URLSearchParams("prompt=x")).run, false);
  assert.equal(parsePlaygroundQuery(new URLSearchParams("run=0")).run, false);
});

Deno.test("playground params: unknown, repeated and malformed parameters are named", () => {
  const query = parsePlaygroundQuery(new URLSearchParams("sede=7&seed=1&seed=2&run=yes"));
  assert.deepEqual(query.errors, [
    'unknown query parameter "sede"; the page takes prompt, steps, seed, n, adapter, runtime, run',
    'query parameter "seed" is given more than once',
    'run: 1 to start a run, 0 not to, got "yes"',
  ]);
  assert.equal(query.run, false);
});

Deno.test("playground params: each bad field gives one message saying what it accepts", () => {
  const parsed = parsePlaygroundFields({
    prompt: "a prompt longer than twenty",
    steps: "5",
    seed: "-1",
    n: "1.5",
    adapter: "missing",
    runtime: "gpu",
  }, BOUNDS);
  assert.deepEqual(parsed, {
    ok: false,
    errors: [
      "prompt: at most 20 characters, got 27",
      'steps: an integer from 1 to 4, got "5"',
      'n: an integer from 1 to 8, got "1.5"',
      'seed: an integer from 0 to 9007199254740991, got "-1"',
      'adapter: no adapter named "missing"; the service lists "crisp"',
      'runtime: "server" or "browser", got "gpu"',
    ],
  });
  assert.deepEqual(parsePlaygroundFields({ prompt: " " }, BOUNDS), {
    ok: false,
    errors: ["prompt: type a prompt, e.g. two red circles"],
  });
  assert.deepEqual(
    parsePlaygroundFields({ prompt: "x", adapter: "crisp", runtime: "browser" }, BOUNDS),
    {
      ok: false,
      errors: [
        'adapter: adapters run on the server only; choose runtime "server" or no adapter',
      ],
    },
  );
  const capped = parsePlaygroundFields({ prompt: "x", steps: "3" }, { ...BOUNDS, maxSteps: 2 });
  assert.deepEqual(capped, { ok: false, errors: ['steps: an integer from 1 to 2, got "3"'] });
});

Deno.test("playground params: blank fields take the defaults", () => {
  const parsed = parsePlaygroundFields(
    { prompt: "x", steps: "", seed: "", n: "", adapter: "", runtime: "" },
    BOUNDS,
  );
  assert.deepEqual(parsed, {
    ok: true,
    request: {
      prompt: "x",
      steps: 2,
      seed: undefined,
      n: 1,
      adapter: undefined,
      runtime: "server",
    },
  });
  const server = parsePlaygroundFields({ prompt: "x", adapter: "crisp", n: "8" }, BOUNDS);
  assert.ok(server.ok && server.request.adapter === "crisp" && server.request.n === 8);
});

Deno.test("playground pixels: SHA-256, differences and RGB ↔ RGBA", async () => {
  assert.equal(
    await sha256Hex(new TextEncoder().encode("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  const a = [new Uint8Array([0, 10, 255]), new Uint8Array([5, 5, 5])];
  assert.deepEqual(comparePixels(a, a), { values: 6, count: 0, maxDiff: 0 });
  const b = [new Uint8Array([1, 10, 253]), new Uint8Array([5, 5, 6])];
  assert.deepEqual(comparePixels(a, b), { values: 6, count: 3, maxDiff: 2 });
  assert.throws(() => comparePixels(a, [a[0]]), /cannot compare 2 images with 1/);
  assert.throws(() => comparePixels([a[0]], [new Uint8Array(4)]), /image 0 has 3 values/);

  const rgb = new Uint8Array([1, 2, 3, 4, 5, 6]);
  const rgba = rgbToRgba(rgb);
  assert.deepEqual([...rgba], [1, 2, 3, 255, 4, 5, 6, 255]);
  assert.deepEqual(rgbaToRgb(rgba), rgb);
  assert.throws(() => rgbaToRgb([1, 2, 3, 254]), /pixel 0 is not opaque/);
  assert.throws(() => rgbToRgba(new Uint8Array(4)), /multiple of 3/);
});

Deno.test("playground script: built once for concurrent requests, retried after a failure", async () => {
  let builds = 0;
  const script = new PlaygroundScript(() => {
    builds++;
    return builds === 1 ? Promise.reject(new Error("bundle failed")) : Promise.resolve("ok");
  });
  await assert.rejects(script.get(), /bundle failed/);
  assert.deepEqual(await Promise.all([script.get(), script.get()]), ["ok", "ok"]);
  assert.equal(await script.get(), "ok");
  assert.equal(builds, 2);
});
