/**
 * `/metrics` is valid Prometheus text (every sample line parses, every
 * metric is typed, histogram buckets are cumulative) and counts requests
 * by route and status.
 */
import assert from "node:assert/strict";
import { postJson, testService } from "./_fixtures.ts";

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Parses the text exposition format; throws on any line that breaks it. */
function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  assert.ok(text.endsWith("\n"), "ends with a newline");
  for (const line of text.slice(0, -1).split("\n")) {
    const type = line.match(/^# TYPE ([a-zA-Z_:][\w:]*) (counter|gauge|histogram)$/);
    if (type) {
      assert.ok(!types.has(type[1]), `${type[1]} typed once`);
      types.set(type[1], type[2]);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][\w:]* .+$/.test(line)) continue;
    const sample = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/);
    assert.ok(sample, `sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (sample[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)",?/g)) {
      labels[pair[1]] = pair[2];
    }
    const value = sample[3] === "+Inf" ? Infinity : Number(sample[3]);
    assert.ok(!Number.isNaN(value), `value of ${line}`);
    const family = sample[1].replace(/_(bucket|sum|count)$/, "");
    assert.ok(types.has(sample[1]) || types.get(family) === "histogram", `${sample[1]} is typed`);
    samples.push({ name: sample[1], labels, value });
  }
  return { types, samples };
}

Deno.test("serve metrics: the exposition parses and counts requests by route and status", async () => {
  await using t = await testService();
  for (let i = 0; i < 3; i++) await (await t.request("/healthz")).body?.cancel();
  const ok = await t.request("/v1/generate", postJson({ prompt: "a red circle", seed: 1 }));
  await ok.body?.cancel();
  await (await t.request("/v1/generate", postJson({ prompt: 1 }))).body?.cancel();
  await (await t.request("/nowhere/" + "x".repeat(50))).body?.cancel();

  const response = await t.request("/metrics");
  assert.equal(response.headers.get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const { types, samples } = parsePrometheus(await response.text());
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples.find((sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted)
    )?.value;
  const requests = "flowmap_http_requests_total";
  assert.equal(types.get(requests), "counter");
  assert.equal(value(requests, { route: "/healthz", method: "GET", status: "200" }), 3);
  assert.equal(value(requests, { route: "/v1/generate", status: "200" }), 1);
  assert.equal(value(requests, { route: "/v1/generate", status: "400" }), 1);
  assert.equal(value(requests, { route: "unmatched", status: "404" }), 1, "paths are not labels");
  assert.equal(types.get("flowmap_http_request_duration_seconds"), "histogram");
  const buckets = samples.filter((sample) =>
    sample.name === "flowmap_http_request_duration_seconds_bucket" &&
    sample.labels.route === "/v1/generate"
  );
  assert.ok(buckets.every((bucket, i) => i === 0 || bucket.value >= buckets[i - 1].value));
  assert.equal(buckets.at(-1)?.labels.le, "+Inf");
  assert.equal(
    value("flowmap_http_request_duration_seconds_count", { route: "/v1/generate" }),
    2,
  );
  for (const gauge of ["flowmap_queue_depth", "flowmap_in_flight", "flowmap_session_cache_size"]) {
    assert.equal(types.get(gauge), "gauge");
    assert.equal(value(gauge), 0);
  }
  assert.equal(value("flowmap_images_generated_total"), 1);
  assert.ok(value("process_resident_memory_bytes")! > 1e6);
  assert.equal(value("flowmap_session_cache_hits_total"), 0);
  assert.equal(value("flowmap_session_cache_misses_total"), 0);
});
