/**
 * The playground's routes in-process: the page and its strict CSP, the
 * script bundled from source, onnxruntime-web's files from node_modules
 * (exactly the ones the bundle asks for), the model's files only when the
 * app is told to serve them, and `--browser-models` in `deno task serve`.
 */
import assert from "node:assert/strict";
import { readModelFiles } from "../../../src/onnx/source.ts";
import { RUNTIME_FILES } from "../../../serve/routes/playground.ts";
import { runDeno } from "../../_fixtures.ts";
import { testService, tinyModelPath } from "../_fixtures.ts";

const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; " +
  "img-src 'self' data: blob:; style-src 'self'; base-uri 'none'; form-action 'none'; " +
  "frame-ancestors 'none'";

Deno.test("playground: GET / is the page under a strict CSP, with no inline script or style", async () => {
  await using t = await testService();
  const response = await t.request("/");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("Content-Type") ?? "", /^text\/html/);
  assert.equal(response.headers.get("Content-Security-Policy"), CSP);
  assert.equal(response.headers.get("X-Content-Type-Options"), "nosniff");
  const html = await response.text();
  const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((match) => match[0]);
  assert.deepEqual(scripts, ['<script type="module" src="/playground/app.js">']);
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, "no inline style or handler");
  assert.doesNotMatch(html, /type="file"|upload/i, "adapter upload is not on the page");
  for (const name of ["prompt", "steps", "seed", "n", "adapter", "runtime"]) {
    assert.match(html, new RegExp(`name="${name}"`), name);
  }

  const css = await t.request("/playground/style.css");
  assert.equal(css.headers.get("Content-Type"), "text/css; charset=utf-8");
  assert.equal(css.headers.get("Content-Security-Policy"), CSP);
  const text = await css.text();
  assert.doesNotMatch(html + text, /https?:\/\/|@import|@font-face|url\(/, "nothing off-site");
  assert.match(text, /image-rendering: pixelated/);

  const api = await t.request("/v1/models");
  assert.equal(api.headers.get("Content-Security-Policy"), null, "API responses are unchanged");
  await api.body?.cancel();
  const post = await t.request("/", { method: "POST" });
  assert.equal(post.status, 405);
  await post.body?.cancel();
});

Deno.test("playground: the script is one self-contained bundle asking only for served runtime files", async () => {
  await using t = await testService();
  const response = await t.request("/playground/app.js");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("Content-Type"), "text/javascript; charset=utf-8");
  const script = await response.text();
  assert.doesNotMatch(script, /^\s*import\s[^(]/m, "no static imports left to resolve");
  assert.match(script, /function loadBrowserModel\(/, "bundled from serve/playground/browser.ts");
  assert.match(script, /function parsePlaygroundFields\(/);
  assert.match(script, /function boxMuller32\(/, "the SDK's own noise, from src/noise.ts");
  const asked = new Set(script.match(/ort-wasm-simd-threaded[.a-z]*\.(?:wasm|mjs)/g));
  assert.ok(asked.size > 0, "the bundle names onnxruntime-web's files");
  for (const name of asked) {
    assert.ok(Object.hasOwn(RUNTIME_FILES, name), `${name} is served`);
  }
  assert.equal(await (await t.request("/playground/app.js")).text(), script, "built once");
});

Deno.test("playground: onnxruntime-web's files come from node_modules, and nothing else does", async () => {
  await using t = await testService();
  const wasm = await t.request("/playground/ort/ort-wasm-simd-threaded.jsep.wasm");
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get("Content-Type"), "application/wasm");
  const bytes = new Uint8Array(await wasm.arrayBuffer());
  assert.deepEqual([...bytes.subarray(0, 4)], [0, 0x61, 0x73, 0x6d], "a WebAssembly module");
  assert.equal(Number(wasm.headers.get("Content-Length")), bytes.length);
  const etag = wasm.headers.get("ETag")!;
  const again = await t.request("/playground/ort/ort-wasm-simd-threaded.jsep.wasm", {
    headers: { "If-None-Match": etag },
  });
  assert.equal(again.status, 304);
  const glue = await t.request("/playground/ort/ort-wasm-simd-threaded.mjs");
  assert.equal(glue.headers.get("Content-Type"), "text/javascript; charset=utf-8");
  await glue.body?.cancel();
  for (const name of ["ort.node.min.mjs", "..%2F..%2Fpackage.json", "%2E%2E", "package.json"]) {
    const response = await t.request(`/playground/ort/${name}`);
    assert.equal(response.status, 404, name);
    const { error } = await response.json();
    assert.match(error.message, /the playground serves ort-wasm|no route GET \/playground\/$/);
  }
});

Deno.test("playground: the model's files are served only when the app is told to", async () => {
  await using closed = await testService();
  const config = await (await closed.request("/playground/config.json")).json();
  assert.equal(config.browser_model, null);
  assert.equal(config.model, "tiny-meanflow");
  const refused = await closed.request("/playground/model/model.onnx");
  assert.equal(refused.status, 404);
  assert.match((await refused.json()).error.message, /start it with --browser-models/);

  const files = await readModelFiles(await tinyModelPath());
  await using open = await testService({ playground: { browserModel: files } });
  const served = await (await open.request("/playground/config.json")).json();
  assert.equal(served.browser_model, "/playground/model/model.onnx");
  assert.equal(served.runtime_files, "/playground/ort/");
  const onnx = await open.request(served.browser_model);
  assert.deepEqual(new Uint8Array(await onnx.arrayBuffer()), files.model);
  const weights = await open.request(`/playground/model/${files.info.externalData}`);
  assert.deepEqual(new Uint8Array(await weights.arrayBuffer()), files.weights);
  const other = await open.request("/playground/model/card.md");
  assert.equal(other.status, 404);
  await other.body?.cancel();
});

Deno.test("playground: deno task serve serves model files for the bundled models only, unless told", async () => {
  const tiny = await tinyModelPath();
  const cases: [string[], boolean][] = [
    [[], true],
    [["--no-browser-models"], false],
    [["--model", tiny], false],
    [["--model", tiny, "--browser-models"], true],
  ];
  for (const [flags, served] of cases) {
    const dir = await Deno.makeTempDir({ prefix: "serve-playground-" });
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "serve/main.ts", "--port", "0", "--adapters", dir, ...flags],
      cwd: new URL("../../../", import.meta.url),
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
    try {
      const first = (await lines.next()).value ?? "";
      const url = first.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/)?.[1];
      assert.ok(url, `listening line: ${first}`);
      assert.ok(first.includes(`browser models ${served ? "served" : "not served"}`), first);
      const config = await (await fetch(`${url}/playground/config.json`)).json();
      assert.equal(config.browser_model !== null, served, flags.join(" "));
      const onnx = await fetch(`${url}/playground/model/model.onnx`);
      assert.equal(onnx.status, served ? 200 : 404, flags.join(" "));
      await onnx.body?.cancel();
    } finally {
      child.kill("SIGTERM");
      for await (const _ of lines) { /* drain until exit */ }
      await child.status;
      await Deno.remove(dir, { recursive: true });
    }
  }
  const help = await runDeno(["run", "-A", "serve/main.ts", "--help"]);
  assert.match(help.stdout, /--browser-models/);
});
