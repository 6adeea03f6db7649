/**
 * The body of an extra worker thread ({@linkcode ReplicaWorker}): builds the
 * run's policy and reward from the config it is sent, then answers rollout
 * and gradient requests one at a time, in the order they came, sending large
 * arrays back without copying.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { selectBackend } from "./backend.ts";
import type { UpdateData } from "./gradients.ts";
import { PolicyReplica } from "./replica.ts";
import type { WorkerReply, WorkerRequest } from "./replica_worker.ts";
import { type Reward, RewardError, rewardFailure } from "./rewards/reward.ts";
import { type Rollout, rolloutOptions, scoreRollout } from "./rollout.ts";
import type { TrainConfig } from "./config.ts";
import { buildReward, loadBaseModel } from "./setup.ts";

let config: TrainConfig | undefined;
let replica: PolicyReplica | undefined;
let reward: Reward | undefined;
let data: UpdateData | undefined;
let queue = Promise.resolve();

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  queue = queue.then(() => handle(event.data));
};

async function handle(request: WorkerRequest): Promise<void> {
  try {
    if (request.type === "start") {
      await selectBackend(request.backend, () => {}, { blasThreads: 1 });
      config = request.config;
      replica = new PolicyReplica(config, await loadBaseModel(config.model), 1);
      reward = buildReward(config.reward);
      return reply({ ok: true });
    }
    if (request.type === "prepare") {
      data = request.data;
      return;
    }
    if (!config || !replica || !reward) throw new Error(`"${request.type}" before "start"`);
    replica.load(request.weights);
    if (request.type === "rollout") {
      const { slice } = request;
      const rolled = await replica.rollout(rolloutOptions(config, slice));
      if (!request.score) return reply({ ok: true, value: rolled }, transferable(rolled));
      const value = await scoreRollout(reward, rolled, slice.first);
      return reply({ ok: true, value }, transferable(rolled, value.rewards, value.stepRewards));
    }
    if (!data) throw new Error('"gradients" before "prepare"');
    const value = replica.gradients(data, request.work);
    return reply(
      { ok: true, value },
      value.flatMap((unit) => unit.grads.map((g) => g.buffer as ArrayBuffer)),
    );
  } catch (error) {
    reply({
      ok: false,
      error: error instanceof Error ? error.stack ?? error.message : `${error}`,
      reward: error instanceof RewardError ? rewardFailure(error) : undefined,
    });
  }
}

/** The distinct buffers of a rollout's arrays and its scores, to send back without copying. */
function transferable(
  data: Rollout,
  ...scores: (Float32Array | readonly Float32Array[] | undefined)[]
): ArrayBuffer[] {
  const arrays = [
    data.tokens,
    data.images,
    ...data.states,
    ...data.logProbOld,
    ...(data.referenceMeans ?? []),
    ...(data.endpointEstimates ?? []),
    ...scores.flat().filter((a) => a !== undefined),
  ];
  const buffers = arrays.map((a) => a.buffer).filter((b) => b instanceof ArrayBuffer);
  return [...new Set(buffers)];
}

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  self.postMessage(message, transfer);
}
