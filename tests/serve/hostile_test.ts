/**
 * Hostile and malformed requests: each gets the right 4xx with a JSON
 * `{ error: { code, message } }` body and no stack trace, and a good
 * request right after it still succeeds.
 */
import assert from "node:assert/strict";
import { encodeSafetensors, float32Tensor } from "../../mod.ts";
import {
  adapterBytes,
  postJson,
  putAdapter,
  testService,
  TOKEN,
  wrongShapeAdapterBytes,
} from "./_fixtures.ts";

interface Case {
  readonly name: string;
  readonly path: string;
  readonly init: RequestInit;
  readonly status: number;
  readonly code: string;
}

const GOOD = { prompt: "two red circles", seed: 3 };
const MAX_ADAPTER_BYTES = 16 * 1024;

const images = (body: unknown, headers?: Record<string, string>) => ({
  path: "/v1/images/generations",
  init: postJson(body, headers),
});
const single = (body: unknown, headers?: Record<string, string>) => ({
  path: "/v1/generate",
  init: postJson(body, headers),
});
const put = (name: string, bytes: Uint8Array, token: string | null = TOKEN) => ({
  path: `/v1/adapters/${name}`,
  init: putAdapter(bytes, token),
});

const steer = (steering: unknown, extra: Record<string, unknown> = {}) =>
  images({ ...GOOD, ...extra, steering });

function steeringCases(): Case[] {
  const ok = { reward: "composition", method: "posterior", particles: 2 };
  return [
    { name: "steering not an object", ...steer("max"), status: 400, code: "invalid_type" },
    {
      name: "steering unknown field",
      ...steer({ ...ok, temperature: 1 }),
      status: 400,
      code: "unknown_field",
    },
    {
      name: "steering unknown reward",
      ...steer({ ...ok, reward: "aesthetics" }),
      status: 400,
      code: "unknown_reward",
    },
    {
      name: "steering reward as code",
      ...steer({ ...ok, reward: "return 1" }),
      status: 400,
      code: "unknown_reward",
    },
    {
      name: "steering reward inherited name",
      ...steer({ ...ok, reward: "constructor" }),
      status: 400,
      code: "unknown_reward",
    },
    {
      name: "steering unknown method",
      ...steer({ ...ok, method: "smc" }),
      status: 400,
      code: "invalid_value",
    },
    {
      name: "steering particles 0",
      ...steer({ ...ok, particles: 0 }),
      status: 400,
      code: "out_of_range",
    },
    {
      name: "steering particles 10⁹",
      ...steer({ ...ok, particles: 1e9 }),
      status: 400,
      code: "out_of_range",
    },
    {
      name: "steering particles missing",
      ...steer({ reward: "composition" }),
      status: 400,
      code: "missing_field",
    },
    {
      name: "steering strength NaN-like",
      ...steer({ ...ok, strength: "NaN" }),
      status: 400,
      code: "invalid_value",
    },
    {
      name: "steering strength on best-of-n",
      ...steer({ ...ok, method: "best-of-n", strength: 3 }),
      status: 400,
      code: "invalid_value",
    },
    {
      name: "prompt outside the reward's grammar",
      ...steer({ ...ok, reward: "composition" }),
      status: 400,
      code: "reward_failed",
    },
    {
      name: "steering over the NFE budget",
      ...steer({ ...ok, particles: 64 }, { n: 8, steps: 8 }),
      status: 400,
      code: "nfe_budget_exceeded",
    },
  ];
}

function hostileCases(valid: Uint8Array, wrongShape: Uint8Array): Case[] {
  const withAuth = (init: RequestInit, authorization: string): RequestInit => ({
    ...init,
    headers: { ...init.headers as Record<string, string>, Authorization: authorization },
  });
  const nonLora = encodeSafetensors({ "proj.weight": float32Tensor([1, 2], [1, 2]) });
  const streamed = (bytes: number) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (let sent = 0; sent < bytes; sent += 4096) controller.enqueue(new Uint8Array(4096));
        controller.close();
      },
    });
  return [
    { name: "bad JSON", ...images('{"prompt": "two'), status: 400, code: "invalid_json" },
    { name: "JSON array body", ...images([GOOD]), status: 400, code: "invalid_body" },
    { name: "JSON null body", ...images("null"), status: 400, code: "invalid_body" },
    { name: "prompt is a number", ...images({ prompt: 7 }), status: 400, code: "invalid_type" },
    { name: "missing prompt", ...images({ n: 1 }), status: 400, code: "missing_field" },
    { name: "empty prompt", ...images({ prompt: "" }), status: 400, code: "out_of_range" },
    {
      name: "prompt over 256 characters",
      ...images({ prompt: "a ".repeat(200) }),
      status: 400,
      code: "out_of_range",
    },
    {
      name: "huge prompt (1 MB body)",
      ...images({ prompt: "red ".repeat(250_000) }),
      status: 413,
      code: "payload_too_large",
    },
    {
      name: "prompt with unknown words",
      ...images({ prompt: "<script>alert(1)</script>" }),
      status: 400,
      code: "invalid_prompt",
    },
    {
      name: "prompt with too many words",
      ...images({ prompt: "a red circle left of a blue square and" }),
      status: 400,
      code: "invalid_prompt",
    },
    { name: "steps 0", ...images({ ...GOOD, steps: 0 }), status: 400, code: "out_of_range" },
    { name: "steps 10⁶", ...images({ ...GOOD, steps: 1e6 }), status: 400, code: "out_of_range" },
    { name: "steps 2.5", ...images({ ...GOOD, steps: 2.5 }), status: 400, code: "out_of_range" },
    { name: 'steps "2"', ...images({ ...GOOD, steps: "2" }), status: 400, code: "invalid_type" },
    ...steeringCases(),
    { name: "n -1", ...images({ ...GOOD, n: -1 }), status: 400, code: "out_of_range" },
    { name: "n 9", ...images({ ...GOOD, n: 9 }), status: 400, code: "out_of_range" },
    { name: "seed 1.5", ...images({ ...GOOD, seed: 1.5 }), status: 400, code: "out_of_range" },
    { name: "seed -1", ...images({ ...GOOD, seed: -1 }), status: 400, code: "out_of_range" },
    {
      name: "seed 2⁵³ (unsafe)",
      ...images({ ...GOOD, seed: 2 ** 53 }),
      status: 400,
      code: "out_of_range",
    },
    {
      name: "seed + n beyond safe integers",
      ...images({ ...GOOD, n: 2, seed: Number.MAX_SAFE_INTEGER }),
      status: 400,
      code: "out_of_range",
    },
    { name: 'seed "7"', ...images({ ...GOOD, seed: "7" }), status: 400, code: "invalid_type" },
    {
      name: "unknown adapter",
      ...images({ ...GOOD, adapter: "nope" }),
      status: 404,
      code: "adapter_not_found",
    },
    {
      name: "adapter name ../etc/passwd",
      ...images({ ...GOOD, adapter: "../etc/passwd" }),
      status: 400,
      code: "invalid_adapter_name",
    },
    {
      name: "adapter name %2e%2e%2f",
      ...single({ ...GOOD, adapter: [{ name: "%2e%2e%2fsecret" }] }),
      status: 400,
      code: "invalid_adapter_name",
    },
    {
      name: "adapter listed twice",
      ...images({ ...GOOD, adapter: ["crisp", { name: "crisp", scale: 2 }] }),
      status: 400,
      code: "duplicate_adapter",
    },
    {
      name: "adapter scale 100",
      ...images({ ...GOOD, adapter: { name: "crisp", scale: 100 } }),
      status: 400,
      code: "out_of_range",
    },
    {
      name: "adapter name is an object",
      ...images({ ...GOOD, adapter: { name: { $ne: "" } } }),
      status: 400,
      code: "invalid_type",
    },
    {
      name: "five adapters",
      ...images({ ...GOOD, adapter: ["a", "b", "c", "d", "e"] }),
      status: 400,
      code: "out_of_range",
    },
    {
      name: "unknown field quality",
      ...images({ ...GOOD, quality: "hd" }),
      status: 400,
      code: "unknown_field",
    },
    {
      name: "__proto__ field",
      ...images('{"prompt": "two red circles", "__proto__": {"admin": true}}'),
      status: 400,
      code: "unknown_field",
    },
    {
      name: "response_format url",
      ...images({ ...GOOD, response_format: "url" }),
      status: 400,
      code: "unsupported_response_format",
    },
    {
      name: "size 1024x1024",
      ...images({ ...GOOD, size: "1024x1024" }),
      status: 400,
      code: "unsupported_size",
    },
    {
      name: "another model",
      ...images({ ...GOOD, model: "dall-e-3" }),
      status: 404,
      code: "model_not_found",
    },
    {
      name: "output_format gif",
      ...images({ ...GOOD, output_format: "gif" }),
      status: 400,
      code: "unsupported_format",
    },
    {
      name: "text/plain body",
      ...images(GOOD, { "Content-Type": "text/plain" }),
      status: 415,
      code: "unsupported_media_type",
    },
    {
      name: "form body",
      path: "/v1/generate",
      init: { method: "POST", body: new URLSearchParams({ prompt: "two red circles" }) },
      status: 415,
      code: "unsupported_media_type",
    },
    {
      name: "streamed body over the limit (no Content-Length)",
      path: "/v1/generate",
      init: {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: streamed(256 * 1024),
      },
      status: 413,
      code: "payload_too_large",
    },
    {
      name: "generate with n",
      ...single({ ...GOOD, n: 2 }),
      status: 400,
      code: "unknown_field",
    },
    {
      name: "generate format jpeg",
      ...single({ ...GOOD, format: "jpeg" }),
      status: 400,
      code: "unsupported_format",
    },
    {
      name: "generate Accept: application/json",
      ...single(GOOD, { Accept: "application/json" }),
      status: 406,
      code: "not_acceptable",
    },
    {
      name: "upload without token",
      ...put("crisp", valid, null),
      status: 401,
      code: "unauthorized",
    },
    {
      name: "upload with a wrong token",
      ...put("crisp", valid, "wrong-token-wrong-token"),
      status: 401,
      code: "unauthorized",
    },
    {
      name: "upload with Basic auth",
      path: "/v1/adapters/crisp",
      init: withAuth(putAdapter(valid), "Basic YWRtaW46YWRtaW4="),
      status: 400,
      code: "invalid_authorization",
    },
    {
      name: "upload named ..%2F..%2Fescape",
      ...put("..%2F..%2Fescape", valid),
      status: 400,
      code: "invalid_adapter_name",
    },
    {
      name: "upload named %2e%2e (the URL parser resolves it to /v1/)",
      ...put("%2e%2e", valid),
      status: 404,
      code: "not_found",
    },
    {
      name: "upload named %2e%2e%5cescape",
      ...put("%2e%2e%5cescape", valid),
      status: 400,
      code: "invalid_adapter_name",
    },
    {
      name: "upload named with a NUL byte",
      ...put("crisp%00.txt", valid),
      status: 400,
      code: "invalid_adapter_name",
    },
    {
      name: "upload named Crisp",
      ...put("Crisp", valid),
      status: 400,
      code: "invalid_adapter_name",
    },
    {
      name: "upload with a 65-character name",
      ...put("a".repeat(65), valid),
      status: 400,
      code: "invalid_adapter_name",
    },
    {
      name: "upload as application/json",
      path: "/v1/adapters/crisp",
      init: {
        ...putAdapter(valid),
        headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
      },
      status: 415,
      code: "unsupported_media_type",
    },
    {
      name: "oversized upload",
      ...put("big", new Uint8Array(MAX_ADAPTER_BYTES + 1)),
      status: 413,
      code: "payload_too_large",
    },
    { name: "empty upload", ...put("empty", new Uint8Array(0)), status: 400, code: "empty_body" },
    {
      name: "truncated safetensors",
      ...put("cut", valid.subarray(0, valid.length - 10)),
      status: 400,
      code: "invalid_safetensors",
    },
    {
      name: "random bytes as safetensors",
      ...put("noise", crypto.getRandomValues(new Uint8Array(512))),
      status: 400,
      code: "invalid_safetensors",
    },
    {
      name: "safetensors without LoRA keys",
      ...put("plain", nonLora),
      status: 400,
      code: "invalid_adapter",
    },
    {
      name: "adapter with wrong shapes",
      ...put("wide", wrongShape),
      status: 422,
      code: "adapter_mismatch",
    },
    {
      name: "delete without token",
      path: "/v1/adapters/crisp",
      init: { method: "DELETE" },
      status: 401,
      code: "unauthorized",
    },
    {
      name: "delete a missing adapter",
      path: "/v1/adapters/ghost",
      init: { method: "DELETE", headers: { Authorization: `Bearer ${TOKEN}` } },
      status: 404,
      code: "adapter_not_found",
    },
    {
      name: "GET /v1/adapters/../../etc/passwd (normalised away)",
      path: "http://localhost/v1/adapters/../../etc/passwd",
      init: {},
      status: 404,
      code: "not_found",
    },
    {
      name: "PATCH an adapter",
      path: "/v1/adapters/crisp",
      init: { method: "PATCH" },
      status: 405,
      code: "method_not_allowed",
    },
    {
      name: "GET the generation route",
      path: "/v1/images/generations",
      init: {},
      status: 405,
      code: "method_not_allowed",
    },
    { name: "unknown route", path: "/v2/anything", init: {}, status: 404, code: "not_found" },
  ];
}

Deno.test("serve hostile: every malformed or hostile request gets its 4xx and the server keeps serving", async () => {
  const logged: string[] = [];
  await using t = await testService({
    limits: { maxAdapterBytes: MAX_ADAPTER_BYTES },
    log: (line) => logged.push(line),
  });
  const valid = adapterBytes(t.model, 1);
  assert.equal((await t.request("/v1/adapters/crisp", putAdapter(valid))).status, 201);
  const cases = hostileCases(valid, wrongShapeAdapterBytes(t.model));
  assert.ok(cases.length >= 30, `${cases.length} cases`);
  for (const { name, path, init, status, code } of cases) {
    const response = await t.request(path, init);
    const text = await response.text();
    assert.equal(response.status, status, `${name}: ${text}`);
    assert.match(response.headers.get("Content-Type") ?? "", /^application\/json/, name);
    const body = JSON.parse(text);
    assert.equal(body.error?.code, code, `${name}: ${text}`);
    assert.equal(typeof body.error.message, "string", name);
    assert.doesNotMatch(text, /\bat .*\.(ts|js):\d+/, `${name}: no stack trace`);
    if (status === 405) assert.ok(response.headers.has("Allow"), `${name}: Allow header`);
    if (status === 401) assert.ok(response.headers.has("WWW-Authenticate"), name);

    const good = await t.request("/v1/images/generations", postJson(GOOD));
    const goodText = await good.text();
    assert.equal(good.status, 200, `a good request after "${name}": ${goodText}`);
  }
  assert.deepEqual(logged, [], "client errors are not logged as failures");
  const listed = await (await t.request("/v1/adapters")).json();
  assert.deepEqual(listed.data.map((entry: { name: string }) => entry.name), ["crisp"]);
  const files = [...Deno.readDirSync(t.adapters.dir)].map((entry) => entry.name);
  assert.deepEqual(files, ["crisp.safetensors"], "nothing else was written");
});

Deno.test("serve hostile: without an admin token, adapter writes answer 403", async () => {
  await using t = await testService({ adminToken: null });
  for (
    const init of [
      putAdapter(adapterBytes(t.model, 1)),
      { method: "DELETE", headers: { Authorization: `Bearer ${TOKEN}` } },
    ]
  ) {
    const response = await t.request("/v1/adapters/crisp", init);
    assert.equal(response.status, 403);
    assert.equal((await response.json()).error.code, "writes_disabled");
  }
  assert.equal((await t.request("/v1/adapters")).status, 200, "reads still work");
});

Deno.test("serve hostile: an unexpected failure is an opaque, logged 500", async () => {
  const logged: string[] = [];
  await using t = await testService({
    log: (line) => logged.push(line),
    wrap: (model) => ({
      ...model,
      info: model.info,
      flowMap: {
        kind: "two-time",
        path: model.flowMap.path,
        average: () => Promise.reject(new Error("secret internal detail")),
      },
      encodePrompts: (prompts) => model.encodePrompts(prompts),
    }),
  });
  const response = await t.request("/v1/generate", postJson(GOOD));
  assert.equal(response.status, 500);
  const text = await response.text();
  assert.equal(JSON.parse(text).error.code, "internal_error");
  assert.doesNotMatch(text, /secret|\.ts:\d+/);
  const id = response.headers.get("X-Request-Id")!;
  assert.ok(text.includes(id), "the message names the request id");
  assert.equal(logged.length, 1);
  assert.match(
    logged[0],
    new RegExp(`request ${id} POST /v1/generate failed: .*secret internal detail`),
  );
  assert.equal((await t.request("/healthz")).status, 200);
});

Deno.test("serve hostile: steering over budget names its param; a steered request counts in /metrics", async () => {
  const logged: string[] = [];
  await using t = await testService({ log: (line) => logged.push(line) });
  const over = await t.request(
    "/v1/images/generations",
    postJson({
      ...GOOD,
      n: 8,
      steering: { reward: "composition", method: "best-of-n", particles: 64 },
    }),
  );
  const body = await over.json();
  assert.equal(over.status, 400);
  assert.equal(body.error.param, "steering.particles");
  assert.match(body.error.message, /budget is 256/);
  const steered = await t.request(
    "/v1/images/generations",
    postJson({
      prompt: "two circles",
      seed: 1,
      n: 2,
      steering: { reward: "composition", method: "best-of-n", particles: 3 },
    }),
  );
  assert.equal(steered.status, 200, `${await steered.clone().text()} ${logged}`);
  assert.equal((await steered.json()).data.length, 2);
  const metrics = await (await t.request("/metrics")).text();
  assert.match(metrics, /^flowmap_steered_images_total 2$/m);
  assert.match(
    metrics,
    new RegExp(`^flowmap_steering_nfe_total ${2 * 3 * t.model.info.defaultSteps}$`, "m"),
  );
  assert.match(metrics, /^flowmap_steering_reward_calls_total 6$/m);
});
