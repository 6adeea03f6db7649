/**
 * `deno task load`: refuses non-loopback targets, and a capped run prints
 * its table and verdicts.
 */
import assert from "node:assert/strict";
import { runDeno } from "../_fixtures.ts";
import { tinyModelPath } from "../serve/_fixtures.ts";

const load = (...args: string[]) => runDeno(["run", "-A", "scripts/load.ts", ...args]);

Deno.test("load script: refuses targets off loopback", async () => {
  for (const url of ["http://example.com:8000", "http://10.0.0.1", "https://127.0.0.1:8443"]) {
    const { code, stderr } = await load("--url", url);
    assert.equal(code, 2, url);
    assert.match(stderr, /--url must be http:\/\/ on loopback .* refusing/);
  }
  const { code, stderr } = await load("--seconds", "601");
  assert.equal(code, 2);
  assert.match(stderr, /--seconds must be an integer in 1\.\.600/);
});

Deno.test("load script: a capped in-process run reports servers and SDK rows", async () => {
  const { stdout, stderr } = await load(
    "--seconds",
    "1",
    "--max-requests",
    "8",
    "--warm-up",
    "1",
    "--threads",
    "1",
    "--model",
    await tinyModelPath(),
  );
  for (
    const pattern of [
      /^\| server \| 32 \| 8 \| .* \| 0 \| \d+ \|$/m,
      /^\| SDK in-process \| 8 \| \d+ \| [\d.]+ \|/m,
    ]
  ) {
    assert.match(stdout, pattern, stderr);
  }
  assert.match(stdout, /^server RSS: \d+ MiB idle → \d+ MiB after a 1 s warm-up/m);
  assert.match(stdout, /^PASS zero errors at concurrency 32 \(0\)$/m);
  assert.match(stdout, /throughput at concurrency 8 ≥ 0\.9× the SDK's in-process/);
});
