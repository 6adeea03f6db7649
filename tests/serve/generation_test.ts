/**
 * Generation routes against the SDK: the same request gives the bytes the
 * SDK gives, with or without adapters; content negotiation; adapter
 * uploads hot-load, and a replaced adapter invalidates its merged session.
 */
import assert from "node:assert/strict";
import { encodeImage, generate } from "../../mod.ts";
import { adapterBytes, MODEL_ID, postJson, putAdapter, testService, TOKEN } from "./_fixtures.ts";

const PROMPT = "a red circle left of a blue square";

function decodeBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

async function metric(request: (path: string) => Promise<Response>, name: string) {
  const text = await (await request("/metrics")).text();
  return Number(text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1]);
}

Deno.test("serve generation: images route returns the SDK's PNGs, seeds counting up", async () => {
  await using t = await testService();
  const response = await t.request(
    "/v1/images/generations",
    postJson({ prompt: PROMPT, n: 3, seed: 11, steps: 3, size: "32x32", model: MODEL_ID }),
  );
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.model, MODEL_ID);
  assert.equal(body.size, "32x32");
  assert.ok(Number.isSafeInteger(body.created));
  const expected = await generate(t.model, { prompt: PROMPT, n: 3, seed: 11, steps: 3 });
  assert.deepEqual(body.data.map((item: { seed: number }) => item.seed), [11, 12, 13]);
  for (const [i, image] of expected.entries()) {
    assert.deepEqual(decodeBase64(body.data[i].b64_json), await encodeImage(image, "png"));
  }
});

Deno.test("serve generation: /v1/generate negotiates PNG or WebP; format overrides Accept", async () => {
  await using t = await testService();
  const [image] = await generate(t.model, { prompt: PROMPT, seed: 5 });
  const cases: [Record<string, string>, Record<string, unknown>, string][] = [
    [{}, {}, "png"],
    [{ Accept: "*/*" }, {}, "png"],
    [{ Accept: "image/webp, image/png;q=0.5" }, {}, "webp"],
    [{ Accept: "image/png;q=0.2, image/webp;q=0.9" }, {}, "webp"],
    [{ Accept: "image/*" }, {}, "png"],
    [{ Accept: "image/webp" }, { format: "png" }, "png"],
    [{}, { format: "webp" }, "webp"],
  ];
  for (const [headers, extra, format] of cases) {
    const response = await t.request(
      "/v1/generate",
      postJson({ prompt: PROMPT, seed: 5, ...extra }, headers),
    );
    assert.equal(response.status, 200, JSON.stringify(headers));
    assert.equal(response.headers.get("Content-Type"), `image/${format}`);
    assert.equal(response.headers.get("X-Seed"), "5");
    const bytes = new Uint8Array(await response.arrayBuffer());
    assert.deepEqual(bytes, await encodeImage(image, format as "png" | "webp"));
  }
});

Deno.test("serve generation: without a seed each request draws one and reports it", async () => {
  await using t = await testService();
  const seeds = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const response = await t.request("/v1/generate", postJson({ prompt: PROMPT }));
    await response.body?.cancel();
    seeds.add(response.headers.get("X-Seed")!);
  }
  assert.equal(seeds.size, 3);
  const [seed] = seeds;
  const replay = await t.request("/v1/generate", postJson({ prompt: PROMPT, seed: Number(seed) }));
  const [image] = await generate(t.model, { prompt: PROMPT, seed: Number(seed) });
  assert.deepEqual(new Uint8Array(await replay.arrayBuffer()), await encodeImage(image, "png"));
});

Deno.test("serve generation: adapters merge like the SDK's; the session cache keys on content", async () => {
  await using t = await testService();
  const first = adapterBytes(t.model, 1), second = adapterBytes(t.model, 2, 3);
  assert.equal((await t.request("/v1/adapters/crisp", putAdapter(first))).status, 201);
  assert.equal((await t.request("/v1/adapters/bold", putAdapter(second))).status, 201);

  const request = (adapter: unknown) =>
    t.request("/v1/generate", postJson({ prompt: PROMPT, seed: 2, adapter }));
  const expect = async (adapters: { source: Uint8Array; scale?: number }[]) => {
    await using merged = await t.model.withAdapters(adapters);
    const [image] = await generate(merged, { prompt: PROMPT, seed: 2 });
    return await encodeImage(image, "png");
  };
  const bytesOf = async (response: Response) => new Uint8Array(await response.arrayBuffer());

  const withCrisp = await bytesOf(await request("crisp"));
  assert.deepEqual(withCrisp, await expect([{ source: first }]));
  const [base] = await generate(t.model, { prompt: PROMPT, seed: 2 });
  assert.notDeepEqual(withCrisp, await encodeImage(base, "png"), "the adapter matters");

  const both = await bytesOf(await request([{ name: "crisp", scale: 0.5 }, "bold"]));
  assert.deepEqual(both, await expect([{ source: second }, { source: first, scale: 0.5 }]));
  const reordered = await bytesOf(await request(["bold", { name: "crisp", scale: 0.5 }]));
  assert.deepEqual(reordered, both, "the adapter set is canonical: order does not matter");
  assert.equal(await metric(t.request, "flowmap_session_cache_misses_total"), 2);
  assert.equal(await metric(t.request, "flowmap_session_cache_hits_total"), 1);

  const replaced = await t.request("/v1/adapters/crisp", putAdapter(second));
  assert.equal(replaced.status, 200, "replacing answers 200");
  const afterReplace = await bytesOf(await request("crisp"));
  assert.deepEqual(afterReplace, await expect([{ source: second }]), "the new content is used");
  assert.equal(await metric(t.request, "flowmap_session_cache_misses_total"), 3);

  const deleted = await t.request("/v1/adapters/crisp", {
    method: "DELETE",
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(deleted.status, 204);
  const gone = await request("crisp");
  assert.equal(gone.status, 404);
  assert.equal((await gone.json()).error.code, "adapter_not_found");
});

Deno.test("serve generation: adapters dropped into the directory are served; broken files are listed as unusable", async () => {
  await using t = await testService();
  await Deno.writeFile(`${t.adapters.dir}/dropped.safetensors`, adapterBytes(t.model, 4));
  await Deno.writeFile(`${t.adapters.dir}/broken.safetensors`, new Uint8Array(12));
  await Deno.writeFile(`${t.adapters.dir}/Not-A-Name.safetensors`, new Uint8Array(12));
  const list = await (await t.request("/v1/adapters")).json();
  assert.deepEqual(list.data.map((entry: { name: string }) => entry.name), ["broken", "dropped"]);
  assert.equal(list.data[0].error.code, "adapter_unusable");
  assert.match(list.data[1].sha256, /^[0-9a-f]{64}$/);
  const one = await (await t.request("/v1/adapters/dropped")).json();
  assert.deepEqual(one, list.data[1]);
  const served = await t.request("/v1/generate", postJson({ prompt: PROMPT, adapter: "dropped" }));
  assert.equal(served.status, 200);
  await served.body?.cancel();
  const broken = await t.request("/v1/generate", postJson({ prompt: PROMPT, adapter: "broken" }));
  assert.equal(broken.status, 422);
  assert.equal((await broken.json()).error.code, "adapter_unusable");
});

Deno.test("serve generation: /v1/models and /healthz describe the model", async () => {
  await using t = await testService();
  const models = await (await t.request("/v1/models")).json();
  assert.equal(models.object, "list");
  assert.deepEqual(
    { ...models.data[0], created: 0 },
    {
      id: MODEL_ID,
      object: "model",
      created: 0,
      owned_by: "flowmap",
      kind: "two-time",
      path: "rectified-flow",
      sizes: ["32x32"],
      default_steps: 2,
      max_steps: 8,
      max_images: 8,
      lora_targets: t.model.info.loraTargets.length,
    },
  );
  const health = await (await t.request("/healthz")).json();
  assert.deepEqual(health, { status: "ok", model: MODEL_ID, in_flight: 0, queued: 0 });
});
