/**
 * An extra worker of a data-parallel run: a Deno Worker thread
 * (`replica_worker_entry.ts`) that builds the run's policy
 * ({@linkcode PolicyReplica}) and reward from its config and, on request,
 * rolls out a slice of an iteration (scored, if asked) or draws units of an
 * optimiser step from the step's shared counter and takes their gradients at
 * the weights it is sent. Requests are answered in order; the worker uses one
 * OpenBLAS and one ONNX Runtime thread.
 *
 * @module
 */

import type { BackendRequest } from "./backend.ts";
import type { TrainConfig } from "./config.ts";
import type { StepWork, UnitGradient, UpdateData } from "./gradients.ts";
import { RewardError, type RewardFailure } from "./rewards/reward.ts";
import type { Rollout, RolloutSlice, ScoredRollout } from "./rollout.ts";
import type { GradientPeer } from "./update.ts";

/** A message to the worker. */
export type WorkerRequest =
  | { readonly type: "start"; readonly config: TrainConfig; readonly backend: BackendRequest }
  | {
    readonly type: "rollout";
    readonly weights: readonly Float32Array[];
    readonly slice: RolloutSlice;
    readonly score: boolean;
  }
  | { readonly type: "prepare"; readonly data: UpdateData }
  | {
    readonly type: "gradients";
    readonly weights: readonly Float32Array[];
    readonly work: StepWork;
  };

/** The worker's answer to a request (`prepare` has none). */
export type WorkerReply =
  | { readonly ok: true; readonly value?: ScoredRollout | Rollout | UnitGradient[] }
  | { readonly ok: false; readonly error: string; readonly reward?: RewardFailure };

/** The trainer's handle on one extra worker thread. */
export class ReplicaWorker implements GradientPeer {
  readonly #worker: Worker;
  readonly #pending: { resolve(value: unknown): void; reject(error: Error): void }[] = [];
  #failure?: Error;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const reply = event.data, waiting = this.#pending.shift();
      if (reply.ok) waiting?.resolve(reply.value);
      else if (reply.reward) {
        const { reward, kind, detail, indices } = reply.reward;
        waiting?.reject(new RewardError(reward, kind, detail, { indices }));
      } else waiting?.reject(new Error(`worker: ${reply.error}`));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(new Error(`worker: ${event.message}`));
    };
  }

  /**
   * Starts a worker thread and builds the run's policy in it, on `backend`
   * (the one this thread runs on) with one OpenBLAS thread.
   *
   * @example
   * ```ts ignore
   * const worker = await ReplicaWorker.start(config, "blas");
   * const half = await worker.rollout(weights, { prompts, seed: 0, iteration: 0, first: 256 });
   * worker.close();
   * ```
   */
  static async start(config: TrainConfig, backend: BackendRequest): Promise<ReplicaWorker> {
    const worker = new Worker(new URL("./replica_worker_entry.ts", import.meta.url), {
      type: "module",
    });
    const handle = new ReplicaWorker(worker);
    await handle.#request({ type: "start", config, backend });
    return handle;
  }

  /** Rolls out `slice` with the adapter at `weights`. */
  rollout(weights: readonly Float32Array[], slice: RolloutSlice): Promise<Rollout> {
    return this.#request({ type: "rollout", weights, slice, score: false }) as Promise<Rollout>;
  }

  /**
   * Rolls out `slice` with the adapter at `weights` and scores it with the
   * config's reward ({@linkcode scoreRollout}); a {@linkcode RewardError}
   * comes back as one.
   */
  scoredRollout(weights: readonly Float32Array[], slice: RolloutSlice): Promise<ScoredRollout> {
    return this.#request({ type: "rollout", weights, slice, score: true }) as Promise<
      ScoredRollout
    >;
  }

  /** Sends the iteration's update data (arrays in shared memory are shared, others copied). */
  prepare(data: UpdateData): void {
    this.#send({ type: "prepare", data });
  }

  /** The gradients of the units of `work` (on the prepared data) the thread draws, at `weights`. */
  gradients(weights: readonly Float32Array[], work: StepWork): Promise<UnitGradient[]> {
    return this.#request({ type: "gradients", weights, work }) as Promise<UnitGradient[]>;
  }

  /** Stops the thread; requests still waiting fail. */
  close(): void {
    this.#worker.terminate();
    this.#fail(new Error("worker closed"));
  }

  #request(request: WorkerRequest): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#send(request);
    });
  }

  #send(request: WorkerRequest): void {
    if (this.#failure) throw this.#failure;
    this.#worker.postMessage(request);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiting of this.#pending.splice(0)) waiting.reject(error);
  }
}
