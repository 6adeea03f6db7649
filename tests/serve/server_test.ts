/**
 * The service on a real socket: a server on 127.0.0.1 (port 0) serves the
 * SDK's exact PNG; shutdown drains an in-flight request and refuses new
 * connections; `deno task serve` starts, answers and stops on SIGTERM.
 */
import assert from "node:assert/strict";
import { encodeImage, generate } from "../../mod.ts";
import { serveApp } from "../../serve/server.ts";
import { runDeno } from "../_fixtures.ts";
import {
  adapterBytes,
  loadTinyModel,
  postJson,
  putAdapter,
  slowed,
  testService,
  tinyModelPath,
  TOKEN,
} from "./_fixtures.ts";

const REQUEST = { prompt: "three green triangles", seed: 42, steps: 2 };

Deno.test("serve server: 127.0.0.1 serves a PNG byte-identical to the SDK's", async () => {
  await using t = await testService();
  const stop = new AbortController();
  const server = serveApp(t.service, { hostname: "127.0.0.1", port: 0, signal: stop.signal });
  try {
    assert.equal(server.url.hostname, "127.0.0.1");
    const response = await fetch(new URL("/v1/generate", server.url), postJson(REQUEST));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("Content-Type"), "image/png");
    const served = new Uint8Array(await response.arrayBuffer());
    const [image] = await generate(t.model, REQUEST);
    assert.deepEqual(served, await encodeImage(image, "png"));
  } finally {
    stop.abort();
    await server.finished;
  }
});

Deno.test("serve server: shutdown drains the in-flight request and refuses new connections", async () => {
  await using t = await testService({ wrap: (model) => slowed(model, 250) });
  const stop = new AbortController();
  const server = serveApp(t.service, { hostname: "127.0.0.1", port: 0, signal: stop.signal });
  const inFlight = fetch(new URL("/v1/generate", server.url), postJson(REQUEST));
  for (let waited = 0; waited < 5000; waited += 10) {
    const health = await (await fetch(new URL("/healthz", server.url))).json();
    if (health.in_flight === 1) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  stop.abort();
  await new Promise((resolve) => setTimeout(resolve, 50));
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: Number(server.url.port) }),
    Deno.errors.ConnectionRefused,
  );
  const response = await inFlight;
  assert.equal(response.status, 200, "the in-flight request completes");
  const [image] = await generate(t.model, REQUEST);
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), await encodeImage(image, "png"));
  await server.finished;
});

Deno.test("serve main: --help, bad arguments, and a clean SIGTERM shutdown", async () => {
  const help = await runDeno(["run", "-A", "serve/main.ts", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task serve/);
  for (
    const flag of [
      "--port",
      "--host",
      "--adapters",
      "--model",
      "--max-concurrency",
      "--queue",
      "--timeout-ms",
    ]
  ) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  const bad = await runDeno(["run", "-A", "serve/main.ts", "--queue", "lots"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim(), "serve: --queue must be an integer ≥ 0, got lots");

  const dir = await Deno.makeTempDir({ prefix: "serve-main-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "serve/main.ts",
      "--port",
      "0",
      "--model",
      await tinyModelPath(),
      "--adapters",
      dir,
    ],
    cwd: new URL("../../", import.meta.url),
    env: { FLOWMAP_ADMIN_TOKEN: TOKEN, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).values();
  try {
    const first = await lines.next();
    const url = first.value?.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/)?.[1];
    assert.ok(url, `listening line: ${first.value}`);
    assert.match(first.value!, /model two-time, adapters in .*, writes enabled/);
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    await using model = await loadTinyModel();
    const put = await fetch(`${url}/v1/adapters/crisp`, putAdapter(adapterBytes(model, 1)));
    assert.equal(put.status, 201);
    await put.body?.cancel();
    child.kill("SIGTERM");
    let rest = "";
    for await (const chunk of lines) rest += chunk;
    assert.match(rest, /shutting down, draining in-flight requests\n.*stopped/s);
    const status = await child.status;
    assert.equal(status.code, 0);
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["crisp.safetensors"]);
  } finally {
    await child.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});
