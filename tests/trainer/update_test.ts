import assert from "node:assert/strict";
import { computeAdvantages } from "../../trainer/advantages.ts";
import { AdamW, WeightEma } from "../../trainer/optimizer.ts";
import {
  type StepWork,
  type UnitGradient,
  type UpdateData,
  WorkCounter,
} from "../../trainer/gradients.ts";
import { PolicyReplica } from "../../trainer/replica.ts";
import { ReplicaWorker } from "../../trainer/replica_worker.ts";
import { kRepeatPrompts, rolloutOptions, scoreRollout } from "../../trainer/rollout.ts";
import { splitPrompts } from "../../trainer/data/splits.ts";
import { buildReward, loadBaseModel } from "../../trainer/setup.ts";
import { type GradientPeer, updatePolicy, type UpdateStats } from "../../trainer/update.ts";
import { fastBackend, tinyConfig } from "./_trainer.ts";

// one OpenBLAS thread here, as in every worker thread
await fastBackend({ blasThreads: 1 });

/**
 * A peer that cannot share memory: it claims its units up front, the first
 * `share` of every step's micro-batches (before this thread draws any), and
 * has the worker compute exactly those, counting the units it took.
 */
class BlockPeer implements GradientPeer {
  units = 0;
  constructor(readonly worker: ReplicaWorker, readonly share: number) {}
  prepare(data: UpdateData): void {
    this.worker.prepare(data);
  }
  async gradients(weights: readonly Float32Array[], work: StepWork): Promise<UnitGradient[]> {
    const chunks = work.chunks.slice(0, Math.ceil(work.chunks.length * this.share));
    const units = chunks.length * 2; // the config's stochastic steps
    const first = new WorkCounter(work.counter).take(units);
    const own = { chunks, counter: new WorkCounter().buffer };
    const drawn = await this.worker.gradients(weights, own);
    this.units += drawn.length;
    return drawn.map((unit) => ({ ...unit, unit: first + unit.unit }));
  }
}

const largestGap = (a: readonly Float32Array[], b: readonly Float32Array[]) =>
  Math.max(...a.map((w, i) => w.reduce((m, v, j) => Math.max(m, Math.abs(v - b[i][j])), 0)));

Deno.test("update: workers drawing units of every step change nothing", async () => {
  // 16 trajectories in micro-batches of 4, two passes, 3 per step: steps of 3, 3 and 2
  // micro-batches, one spanning both passes; the worker draws units beside this thread, or
  // takes the first 2, 2 and 1 micro-batches of each step as a block
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
    const { data, rewards } = await scoreRollout(
      buildReward(config.reward),
      await one.rollout(rolloutOptions(config, { prompts: chosen, seed: 0, iteration: 0 })),
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
    assert.equal(alone.optimizerSteps, 3);
    assert.ok(largestGap(one.weights(), initial) > 1e-3, "the update moved the adapter");
    const block = new BlockPeer(worker, 1 / 2);
    for (const peer of [worker, block]) {
      two.load(initial);
      const shared = await update(two, [peer]);
      // the same float32 gradients added in the same order: the same bits
      assert.deepEqual(two.weights(), one.weights());
      assert.deepEqual(shared, alone);
    }
    assert.equal(block.units, (2 + 2 + 1) * 2, "the worker took its blocks");
  } finally {
    worker.close();
    await one.dispose();
    await two.dispose();
  }
});
