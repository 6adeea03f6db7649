import assert from "node:assert/strict";
import { runDeno } from "../_fixtures.ts";

const signal = (...args: string[]) =>
  runDeno(["run", "-A", "--no-lock", "scripts/grpo-signal.ts", ...args]);

Deno.test("grpo-signal: --help, and bad arguments exit 2 with one line", async () => {
  const help = await signal("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task grpo-signal --config FILE/);
  const missing = await signal();
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^grpo-signal: --config is required\n/);
  const few = await signal("--config", "x.json", "--batches", "1");
  assert.equal(few.code, 2);
  assert.match(few.stderr, /--batches must be an integer ≥ 2/);
  const config = await signal("--config", "no-such-config.json");
  assert.equal(config.code, 1);
  assert.match(config.stderr, /^grpo-signal: .*no-such-config\.json/);
});

Deno.test("grpo-signal: a tiny model's cosine and line search are reproducible", async () => {
  const args = ["--config", "trainer/configs/tiny-brightness.json", "--batches", "3"];
  const first = await signal(...args, "--line-search", "0,2");
  assert.equal(first.code, 0, first.stderr);
  const cosine = first.stdout.match(/mean pairwise cosine (-?\d\.\d+) ± \d\.\d+ \(3 pairs/);
  assert.ok(cosine, first.stdout);
  assert.ok(Math.abs(Number(cosine[1])) <= 1);
  const within = first.stdout.match(/reward variance within groups: (\d+) %/);
  assert.ok(within && Number(within[1]) <= 100, first.stdout);
  const rewards = [...first.stdout.matchAll(/displacement (\d+): training reward (\d\.\d+)/g)];
  assert.deepEqual(rewards.map((m) => m[1]), ["0", "2"]);
  // the same seed gives the same gradients, so the same numbers; timings and the machine's
  // backend lines (which depend on whether OpenBLAS is installed) aside
  const again = await signal(...args, "--line-search", "0,2");
  const numbers = (out: string) =>
    out.split("\n").filter((l) => !/traj\/s|^backend: |^warning: /.test(l)).join("\n");
  assert.equal(numbers(again.stdout), numbers(first.stdout));
});
