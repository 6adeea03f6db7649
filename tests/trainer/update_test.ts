import assert from "node:assert/strict";
import { computeAdvantages } from "../../trainer/advantages.ts";
import { AdamW, WeightEma } from "../../trainer/optimizer.ts";
import { PolicyReplica } from "../../trainer/replica.ts";
import { ReplicaWorker } from "../../trainer/replica_worker.ts";
import { kRepeatPrompts, scoredRollout } from "../../trainer/rollout.ts";
import { splitPrompts } from "../../trainer/data/splits.ts";
import { buildReward, loadBaseModel } from "../../trainer/setup.ts";
import { type GradientPeer, updatePolicy, type UpdateStats } from "../../trainer/update.ts";
import { fastBackend, tinyConfig } from "./_trainer.ts";

// one OpenBLAS thread here, as in every worker thread
await fastBackend({ blasThreads: 1 });

const largestGap = (a: readonly Float32Array[], b: readonly Float32Array[]) =>
  Math.max(...a.map((w, i) => w.reduce((m, v, j) => Math.max(m, Math.abs(v - b[i][j])), 0)));

Deno.test("update: a worker thread taking part of every step changes nothing but rounding", async () => {
  // 16 trajectories in micro-batches of 4, two passes, 3 per step: steps of 3, 3 and 2
  // micro-batches, one spanning both passes, cut into slices of 1 + 2, 1 + 2 and 1 + 1
  const config = tinyConfig({
    rollout: { ...tinyConfig().rollout, prompts: 4 },
    optimizer: { lr: 0.01, accumulation: 3, innerEpochs: 2 },
  });
  const base = await loadBaseModel(config.model);
  const one = new PolicyReplica(config, base, 1), two = new PolicyReplica(config, base, 1);
  const worker = await ReplicaWorker.start(config, "auto");
  try {
    const { prompts, groupSize, stochasticSteps } = config.rollout;
    const chosen = kRepeatPrompts(splitPrompts("train"), prompts, groupSize, {
      seed: 0,
      iteration: 0,
    });
    const { data, rewards } = await scoredRollout(
      (options) => one.rollout(options),
      buildReward(config.reward),
      config,
      { prompts: chosen, seed: 0, iteration: 0 },
    );
    const advantages = computeAdvantages(
      { rewards, prompts: chosen, stochasticSteps },
      config.advantage,
    );
    const initial = one.weights();
    const update = (replica: PolicyReplica, peers: GradientPeer[]): Promise<UpdateStats> =>
      updatePolicy(
        {
          policy: replica.policy,
          adapter: replica.adapter,
          optimizer: new AdamW(replica.adapter.variables, config.optimizer),
          ema: new WeightEma(initial, config.ema),
          objective: config.objective,
          microBatch: config.rollout.microBatch,
          accumulation: config.optimizer.accumulation,
          innerEpochs: config.optimizer.innerEpochs,
          seed: 0,
          iteration: 0,
          peers,
        },
        data,
        advantages,
      );
    const alone = await update(one, []);
    const shared = await update(two, [worker]);
    assert.equal(alone.optimizerSteps, 3);
    assert.equal(shared.optimizerSteps, 3);
    assert.ok(largestGap(one.weights(), initial) > 1e-3, "the update moved the adapter");
    const gap = largestGap(one.weights(), two.weights());
    assert.ok(gap < 1e-6, `adapter weights differ by ${gap}`);
    for (const key of Object.keys(alone) as (keyof UpdateStats)[]) {
      const [a, b] = [alone[key], shared[key]];
      assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a)), `${key}: ${a} vs ${b}`);
    }
  } finally {
    worker.close();
    await one.dispose();
    await two.dispose();
  }
});
