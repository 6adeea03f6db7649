import assert from "node:assert/strict";
import { join } from "node:path";
import { ExpectedError } from "../../cli/command.ts";
import type { IterationMetrics } from "../../trainer/metrics.ts";
import { ResumeError, RunDirectory } from "../../trainer/run_directory.ts";

const line = (iteration: number) => ({ iteration, rewardMean: iteration }) as IterationMetrics;

Deno.test("run directory: start writes the config, resume checks it and returns the checkpoint", async () => {
  const root = await Deno.makeTempDir();
  try {
    const run = new RunDirectory(join(root, "run"));
    assert.equal(run.checkpoint, join(root, "run", "checkpoint.safetensors"));
    assert.equal(run.evaluation("md", 12), join(root, "run", "eval", "eval-00012.md"));
    assert.equal(run.evaluation("json"), join(root, "run", "eval.json"));
    await run.start("{}\n");
    assert.equal(await Deno.readTextFile(run.config), "{}\n");
    assert.equal(await Deno.readTextFile(run.metrics), "");
    const resumeFails = async (text: string, pattern: RegExp) =>
      await assert.rejects(run.resume(text), (e: Error) => {
        assert.ok(e instanceof ResumeError, `${e}`);
        assert.match(e.message, pattern);
        return true;
      });
    await resumeFails("{}\n", /^cannot resume: .*checkpoint\.safetensors is missing$/);
    await Deno.writeFile(run.checkpoint, new Uint8Array([1, 2, 3]));
    await resumeFails('{"a":1}\n', /^cannot resume: the config differs from the run's/);
    assert.deepEqual(await run.resume("{}\n"), new Uint8Array([1, 2, 3]));
    await assert.rejects(run.start("{}\n"), (e: Error) => {
      assert.ok(e instanceof ExpectedError && !(e instanceof ResumeError), `${e}`);
      assert.match(e.message, /already holds a run; pass --resume or another --out$/);
      return true;
    });
    await assert.rejects(new RunDirectory(join(root, "none")).resume("{}\n"), ResumeError);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("run directory: metrics after the checkpoint are dropped on resume", async () => {
  const root = await Deno.makeTempDir();
  try {
    const run = new RunDirectory(root);
    await run.start("{}\n");
    for (const i of [1, 2, 3]) await run.appendMetrics(line(i));
    await run.keepMetricsUpTo(2);
    const kept = (await Deno.readTextFile(run.metrics)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(kept.map((m) => m.iteration), [1, 2]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
