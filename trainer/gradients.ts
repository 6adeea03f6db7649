/**
 * The update's unit of work (docs/math.md §6): the gradient of the GRPO
 * objective on one stochastic transition of one micro-batch, with the
 * per-sample terms the update's statistics need. The workers of a step draw
 * its units from a shared counter ({@linkcode WorkCounter}); the update adds
 * their gradients in unit order, whoever computed them.
 *
 * Trajectories whose advantages are all ≈ 0 carry no policy gradient and are
 * left out; the rest form the micro-batches, in rollout order. Micro-batch
 * `c` holds the active trajectories `c·microBatch … (c + 1)·microBatch − 1`,
 * so every worker that holds the same {@link UpdateData} reads the same rows.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { grpoObjective, type ObjectiveOptions } from "./grpo.ts";
import type { LoraAdapter } from "./model/lora.ts";
import type { FlowMapPolicy } from "./policy.ts";
import type { Rollout } from "./rollout.ts";

/** Advantages at most this large in magnitude count as 0 (no policy gradient to follow). */
const ZERO_ADVANTAGE = 1e-6;

/** What the update reads of an iteration: the rollout's transitions and their advantages. */
export interface UpdateData {
  /** The rollout (its final images are not needed). */
  readonly rollout: Pick<
    Rollout,
    "tokens" | "sampleShape" | "states" | "logProbOld" | "referenceMeans"
  >;
  /** Advantage per stochastic transition and trajectory (`advantages[k][i]`). */
  readonly advantages: readonly Float32Array[];
  /** The trajectories in the update (some advantage above 1e-6 in magnitude), in rollout order. */
  readonly active: Int32Array;
  /** Trajectories per micro-batch. */
  readonly microBatch: number;
}

/**
 * The update's view of a rollout: its active trajectories cut into
 * micro-batches of `microBatch`.
 *
 * @example
 * ```ts ignore
 * const data = updateData(rollout, advantages, 32);
 * microBatchCount(data); // e.g. 14 when 64 of 512 trajectories have zero advantages
 * ```
 */
export function updateData(
  rollout: UpdateData["rollout"],
  advantages: readonly Float32Array[],
  microBatch: number,
): UpdateData {
  const n = rollout.logProbOld[0].length;
  const active: number[] = [];
  for (let i = 0; i < n; i++) {
    if (advantages.some((a) => Math.abs(a[i]) > ZERO_ADVANTAGE)) active.push(i);
  }
  // only what the update reads: this is what goes to every other worker
  const { tokens, sampleShape, states, logProbOld, referenceMeans } = rollout;
  return {
    rollout: { tokens, sampleShape, states, logProbOld, referenceMeans },
    advantages,
    active: Int32Array.from(active),
    microBatch,
  };
}

/** Micro-batches of the update (the last may be smaller). */
export function microBatchCount(data: UpdateData): number {
  return Math.ceil(data.active.length / data.microBatch);
}

/** The objective's per-sample values on one stochastic transition of one micro-batch. */
export interface TransitionTerms {
  /** The objective (a mean over the micro-batch). */
  readonly loss: number;
  /** `pi_theta / pi_old` per sample. */
  readonly ratio: Float32Array;
  /** KL to the reference per sample. */
  readonly kl: Float32Array;
  /** `½ (log_prob − log_prob_old)²` per sample. */
  readonly approxKl: Float64Array;
}

/** The model a gradient is taken of. */
export interface GradientModel {
  /** The policy. */
  readonly policy: FlowMapPolicy;
  /** The trained adapter (its current weights). */
  readonly adapter: LoraAdapter;
  /** Objective hyperparameters. */
  readonly objective: ObjectiveOptions;
}

/**
 * A counter in shared memory from which the workers of an optimiser step
 * draw its units (stochastic transitions of its micro-batches) by index, so
 * whichever worker is free takes the next one.
 *
 * @example
 * ```ts
 * const counter = new WorkCounter();
 * counter.take(); // 0
 * counter.take(3); // 1: units 1, 2 and 3 are claimed
 * counter.reset();
 * ```
 */
export class WorkCounter {
  /** The shared memory, to send to other threads (`new WorkCounter(buffer)` there). */
  readonly buffer: SharedArrayBuffer;
  readonly #next: Int32Array;

  /** A counter at 0, or a view of one another thread made. */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.buffer = buffer;
    this.#next = new Int32Array(buffer, 0, 1);
  }

  /** Claims the next `count` indices; returns the first. */
  take(count = 1): number {
    return Atomics.add(this.#next, 0, count);
  }

  /** Starts again from index 0 (only while no worker draws). */
  reset(): void {
    Atomics.store(this.#next, 0, 0);
  }
}

/** An optimiser step's work: its micro-batches and the counter its units are drawn from. */
export interface StepWork {
  /** The step's micro-batches; unit `u` is transition `u % K` of micro-batch `chunks[⌊u / K⌋]`. */
  readonly chunks: readonly number[];
  /** The {@linkcode WorkCounter}'s shared memory. */
  readonly counter: SharedArrayBuffer;
}

/** The gradient of one unit of a step: one stochastic transition of one micro-batch. */
export interface UnitGradient {
  /** The unit's index in its step. */
  readonly unit: number;
  /** `∂objective/∂variable` per adapter variable, in the adapter's order (unweighted). */
  readonly grads: Float32Array[];
  /** The objective's per-sample values. */
  readonly terms: TransitionTerms;
}

/**
 * Draws units of `work` from its counter and takes their gradients until
 * none remain; what it returns depends on which units this thread won, the
 * gradients themselves do not.
 *
 * @example
 * ```ts ignore
 * const counter = new WorkCounter();
 * const all = drawGradients({ policy, adapter, objective }, data, { chunks: [0, 1], counter: counter.buffer });
 * ```
 */
export function drawGradients(
  model: GradientModel,
  data: UpdateData,
  work: StepWork,
): UnitGradient[] {
  const counter = new WorkCounter(work.counter);
  const steps = model.policy.stochasticSteps, units = work.chunks.length * steps;
  const out: UnitGradient[] = [];
  for (let unit = counter.take(); unit < units; unit = counter.take()) {
    const chunk = work.chunks[Math.floor(unit / steps)];
    out.push({ unit, ...transitionGradient(model, data, chunk, unit % steps) });
  }
  return out;
}

/** The objective and its gradient on stochastic transition `k` of micro-batch `chunk`. */
function transitionGradient(
  { policy, adapter, objective }: GradientModel,
  data: UpdateData,
  chunk: number,
  k: number,
): Omit<UnitGradient, "unit"> {
  const { rollout, advantages, microBatch } = data;
  const members = data.active.subarray(chunk * microBatch, (chunk + 1) * microBatch);
  const [c, h, w] = rollout.sampleShape;
  const size = c * h * w;
  const n = rollout.logProbOld[0].length;
  const textLength = rollout.tokens.length / n;
  const rows = <T extends Float32Array | Int32Array>(a: T, width: number): T =>
    gatherRows(a, members, width);
  const shape = [members.length, c, h, w] as [number, number, number, number];
  const old = rows(rollout.logProbOld[k], 1);
  const batch = {
    step: k,
    x: tf.tensor4d(rows(rollout.states[k], size), shape),
    next: tf.tensor4d(rows(rollout.states[k + 1], size), shape),
    tokens: tf.tensor2d(rows(rollout.tokens, textLength), [members.length, textLength], "int32"),
    logProbOld: tf.tensor1d(old),
    advantages: tf.tensor1d(rows(advantages[k], 1)),
    referenceMean: rollout.referenceMeans
      ? tf.tensor4d(rows(rollout.referenceMeans[k], size), shape)
      : undefined,
  };
  let ratio: tf.Tensor1D | undefined, kl: tf.Tensor1D | undefined;
  let logProb: tf.Tensor1D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const terms = grpoObjective(policy, adapter, batch, objective);
    ratio = tf.keep(terms.ratio);
    kl = tf.keep(terms.kl);
    logProb = tf.keep(terms.logProb);
    return terms.loss;
  }, adapter.variables);
  const lps = logProb!.dataSync();
  const result = {
    // copies: each owns its buffer, to be sent to another thread without copying again
    grads: adapter.variables.map((v) => (grads[v.name].dataSync() as Float32Array).slice()),
    terms: {
      loss: value.dataSync()[0],
      ratio: ratio!.dataSync() as Float32Array,
      kl: kl!.dataSync() as Float32Array,
      approxKl: Float64Array.from(old, (o, i) => 0.5 * (lps[i] - o) ** 2),
    },
  };
  tf.dispose([value, ...Object.values(grads), ratio!, kl!, logProb!]);
  tf.dispose([batch.x, batch.next, batch.tokens, batch.logProbOld, batch.advantages]);
  if (batch.referenceMean) batch.referenceMean.dispose();
  return result;
}

/** Rows `members` of a row-major array of `width`-value rows, contiguous runs copied whole. */
function gatherRows<T extends Float32Array | Int32Array>(
  source: T,
  members: Int32Array,
  width: number,
): T {
  const first = members[0], count = members.length;
  if (members[count - 1] - first === count - 1) {
    return source.subarray(first * width, (first + count) * width) as T;
  }
  const out = new (source.constructor as { new (n: number): T })(count * width);
  members.forEach((row, i) => out.set(source.subarray(row * width, (row + 1) * width), i * width));
  return out;
}
