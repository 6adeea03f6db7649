/**
 * Overload and deadlines: a full queue answers 429 with Retry-After, a
 * deadline passed in the queue 503, one passed while generating 504; the
 * service recovers after each.
 */
import assert from "node:assert/strict";
import { postJson, slowed, testService } from "./_fixtures.ts";

const GOOD = { prompt: "two red circles", seed: 1 };

Deno.test("serve limits: concurrency 1 with a queue of 1: the third request gets 429 with Retry-After", async () => {
  await using t = await testService({
    wrap: (model) => slowed(model, 100),
    limits: { concurrency: 1, queue: 1 },
  });
  const running = t.request("/v1/generate", postJson(GOOD));
  const queued = t.request("/v1/generate", postJson(GOOD));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const health = await (await t.request("/healthz")).json();
  assert.deepEqual([health.in_flight, health.queued], [1, 1]);
  const refused = await t.request("/v1/generate", postJson(GOOD));
  assert.equal(refused.status, 429);
  assert.match(refused.headers.get("Retry-After") ?? "", /^[1-9]\d*$/);
  assert.equal((await refused.json()).error.code, "queue_full");
  for (const response of await Promise.all([running, queued])) {
    assert.equal(response.status, 200);
    await response.body?.cancel();
  }
  const after = await t.request("/v1/generate", postJson(GOOD));
  assert.equal(after.status, 200);
  await after.body?.cancel();
  const metrics = await (await t.request("/metrics")).text();
  assert.match(
    metrics,
    /flowmap_http_requests_total\{route="\/v1\/generate",method="POST",status="429"\} 1/,
  );
});

Deno.test("serve limits: a deadline passed while generating is 504, while queued 503", async () => {
  await using t = await testService({
    wrap: (model) => slowed(model, 150),
    limits: { concurrency: 1, queue: 4, timeoutMs: 200 },
  });
  const [slow, waiting] = await Promise.all([
    t.request("/v1/generate", postJson(GOOD)),
    t.request("/v1/generate", postJson(GOOD)),
  ]);
  assert.equal(slow.status, 504);
  assert.equal((await slow.json()).error.code, "generation_timeout");
  assert.equal(waiting.status, 503);
  assert.equal((await waiting.json()).error.code, "queue_timeout");
  assert.ok(waiting.headers.has("Retry-After"));
  // The abandoned generation keeps its slot until it finishes; then the service serves again.
  for (let waited = 0;; waited += 25) {
    const health = await (await t.request("/healthz")).json();
    if (health.in_flight === 0 && health.queued === 0) break;
    assert.ok(waited < 5000, "the abandoned generation finishes");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const quick = await t.request("/v1/generate", postJson({ ...GOOD, steps: 1 }));
  assert.equal(quick.status, 200);
  await quick.body?.cancel();
});
