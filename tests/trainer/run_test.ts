import assert from "node:assert/strict";
import { join } from "node:path";
import { parseLoraAdapter } from "../../src/lora/adapter.ts";
import { loadTrainConfig, type TrainConfig } from "../../trainer/config.ts";
import type { IterationMetrics } from "../../trainer/metrics.ts";
import { Trainer } from "../../trainer/run.ts";
import { splitPrompts } from "../../trainer/data/splits.ts";
import { type Reward, RewardError } from "../../trainer/rewards/reward.ts";
import { kRepeatPrompts } from "../../trainer/rollout.ts";
import { buildReward, loadBaseModel } from "../../trainer/setup.ts";
import { fastBackend, tinyConfig } from "./_trainer.ts";

await fastBackend();

async function train(
  config: TrainConfig,
  outDir: string,
  options: { resume?: boolean; stopAfter?: number; reward?: Reward } = {},
) {
  const base = await loadBaseModel(config.model);
  const trainer = await Trainer.create(config, base, {
    outDir,
    resume: options.resume ?? false,
    reward: options.reward,
    log: () => {
      if (options.stopAfter !== undefined && trainer.iteration >= options.stopAfter) {
        trainer.requestStop();
      }
    },
    evalBatch: 8,
  });
  const summary = await trainer.run().catch(async (error) => {
    await trainer.dispose();
    throw error;
  });
  return { trainer, base, summary };
}

/** Metrics without wall-clock fields. */
async function readMetrics(
  dir: string,
): Promise<Omit<IterationMetrics, "seconds" | "trajectoriesPerSecond">[]> {
  const text = await Deno.readTextFile(join(dir, "metrics.jsonl"));
  return text.split("\n").filter((l) => l !== "").map((l) => {
    const { seconds: _s, trajectoriesPerSecond: _t, ...rest } = JSON.parse(l) as IterationMetrics;
    return rest;
  });
}

Deno.test("run: a resumed tiny run reproduces the uninterrupted run's metrics exactly", async () => {
  const root = await Deno.makeTempDir();
  try {
    const config = tinyConfig({ train: { iterations: 4, checkpointEvery: 3 } });
    const straight = await train(config, join(root, "a"));
    await straight.trainer.dispose();
    const first = await train(config, join(root, "b"), { stopAfter: 2 });
    assert.equal(first.summary.iterations, 2);
    assert.ok(first.summary.interrupted);
    await first.trainer.dispose();
    await assert.rejects(train(config, join(root, "b")), /already holds a run/);
    const resumed = await train(config, join(root, "b"), { resume: true });
    assert.equal(resumed.summary.iterations, 4);
    await resumed.trainer.dispose();
    const expected = await readMetrics(join(root, "a"));
    assert.equal(expected.length, 4);
    assert.deepEqual(await readMetrics(join(root, "b")), expected);
    // ONNX Runtime rollouts (the default) round differently from TF.js, far inside the clip range
    const deviation = expected[0].firstUpdateRatioDeviation as number;
    assert.ok(deviation > 0 && deviation < 1e-4, `first inner update on-policy: ${deviation}`);
    for (const file of ["checkpoint.safetensors", "adapter.safetensors", "eval.json"]) {
      assert.deepEqual(
        await Deno.readFile(join(root, "b", file)),
        await Deno.readFile(join(root, "a", file)),
        file,
      );
    }
    const changed = tinyConfig({ train: { iterations: 5, checkpointEvery: 3 } });
    await assert.rejects(train(changed, join(root, "b"), { resume: true }), /config differs/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("run: more workers change only rounding; a run resumes with any count, and from before train.workers", async () => {
  const root = await Deno.makeTempDir();
  try {
    // step-aware advantages: every worker's endpoint estimates are scored and joined too
    const config = tinyConfig({
      train: { iterations: 2, checkpointEvery: 1 },
      advantage: { mode: "step-aware" },
    });
    const workers = (count: number) => ({ ...config, train: { ...config.train, workers: count } });
    const alone = await train(config, join(root, "a"));
    await alone.trainer.dispose();
    const first = await train(workers(2), join(root, "b"), { stopAfter: 1 });
    await first.trainer.dispose();
    // a run directory written before train.workers existed has no such field
    const saved = JSON.parse(await Deno.readTextFile(join(root, "b", "config.json")));
    delete saved.train.workers;
    await Deno.writeTextFile(join(root, "b", "config.json"), JSON.stringify(saved, null, 2));
    // three workers for two micro-batches: this thread's slices are empty
    const resumed = await train(workers(3), join(root, "b"), { resume: true });
    assert.equal(resumed.summary.iterations, 2);
    await resumed.trainer.dispose();
    const expected = await readMetrics(join(root, "a")), got = await readMetrics(join(root, "b"));
    assert.equal(got.length, 2);
    got.forEach((line, i) => {
      for (const [key, value] of Object.entries(line) as [string, number][]) {
        const want = (expected[i] as Record<string, number>)[key];
        assert.ok(
          Math.abs(value - want) <= 1e-5 * Math.max(1, Math.abs(want)),
          `${key}: ${value} vs ${want}`,
        );
      }
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("run: workers score their own slices with the config's reward, as a substitute is scored here", async () => {
  const root = await Deno.makeTempDir();
  try {
    // step-aware advantages: the endpoint estimates are scored too
    const config = tinyConfig({
      train: { iterations: 2, checkpointEvery: 2, workers: 2 },
      advantage: { mode: "step-aware" },
    });
    const inWorkers = await train(config, join(root, "a"));
    await inWorkers.trainer.dispose();
    const here = await train(config, join(root, "b"), { reward: buildReward(config.reward) });
    await here.trainer.dispose();
    assert.deepEqual(await readMetrics(join(root, "b")), await readMetrics(join(root, "a")));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("run: a reward failing in a worker thread fails the run with the iteration's indices", async () => {
  const root = await Deno.makeTempDir();
  // the worker rolls out trajectories 4–7 (the second prompt's group); its second image gets no score
  const config = tinyConfig({ train: { iterations: 1, workers: 2 } });
  const [, second] = kRepeatPrompts(splitPrompts("train"), 2, 4, { seed: 0, iteration: 0 })
    .filter((_, i) => i % 4 === 0);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const { prompts } = await req.json() as { prompts: string[] };
    return Response.json({ scores: prompts.map((p, i) => p === second && i === 1 ? null : 0.5) });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}/score`;
    await assert.rejects(
      train({ ...config, reward: [{ kind: "http", url, weight: 1 }] }, root),
      (e: Error) =>
        e instanceof RewardError && e.kind === "non-finite" && e.indices.join() === "5" &&
        /null at batch index 1 \(of trajectories 4–7\)$/.test(e.message),
    );
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("run: a worker thread that cannot start fails the run with its reason", async () => {
  const root = await Deno.makeTempDir();
  try {
    const config = tinyConfig({ train: { iterations: 1, workers: 3 } });
    const create = Trainer.create(config, await loadBaseModel(config.model), {
      outDir: root,
      resume: false,
      log: () => {},
      backend: "tensorflow", // not installed: both worker threads fail to start
    });
    await assert.rejects(create, /worker: .*backend tensorflow is unavailable/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("run: with TF.js rollouts the first inner update is exactly on-policy", async () => {
  const root = await Deno.makeTempDir();
  try {
    const base = tinyConfig();
    const config = tinyConfig({
      rollout: { ...base.rollout, engine: "tfjs" },
      train: { iterations: 1 },
    });
    const { trainer } = await train(config, root);
    await trainer.dispose();
    const [metrics] = await readMetrics(root);
    assert.equal(metrics.firstUpdateRatioDeviation, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("run: a tiny end-to-end run raises brightness; base bit-identical; outputs written", async () => {
  const root = await Deno.makeTempDir();
  try {
    const config = await loadTrainConfig("trainer/configs/tiny-brightness.json");
    const { trainer, base, summary } = await train(config, root);
    try {
      const rewards = summary.metrics.map((m) => m.rewardMean);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const early = mean(rewards.slice(0, 5)), late = mean(rewards.slice(-5));
      assert.ok(late > early + 0.03, `brightness ${early.toFixed(4)} → ${late.toFixed(4)}`);
      for (const [name, variable] of trainer.model.variables) {
        assert.deepEqual(variable.dataSync(), base.parameters.get(name)!.data, `${name} changed`);
      }
      const adapter = parseLoraAdapter(await Deno.readFile(join(root, "adapter.safetensors")));
      assert.equal(adapter.modules.size, trainer.adapter.modules.length);
      assert.equal(adapter.metadata.trainer, "flow-map-grpo");
      for (const file of ["samples.png", "reward-curve.png", "eval.md", "summary.json"]) {
        assert.ok((await Deno.stat(join(root, file))).size > 0, file);
      }
      const report = JSON.parse(await Deno.readTextFile(join(root, "eval.json")));
      assert.deepEqual(report.rows.map((r: { steps: number }) => r.steps), [1, 2]);
    } finally {
      await trainer.dispose();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
