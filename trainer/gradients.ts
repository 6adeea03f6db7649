/**
 * The update's unit of work (docs/math.md §6): the gradient of the GRPO
 * objective over a slice of an iteration's micro-batches, summed in float64
 * into plain arrays that add up across workers, with the per-sample terms
 * the update's statistics need.
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

/** The gradient of a slice of micro-batches, and its terms. */
export interface SliceGradient {
  /** `weight · Σ ∂objective/∂variable` per adapter variable (in the adapter's order). */
  readonly sums: Float64Array[];
  /** Per micro-batch of the slice, in order: its terms per stochastic transition. */
  readonly terms: TransitionTerms[][];
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
 * The gradient over micro-batches `chunks` of `data`, every transition's
 * gradient weighted by `weight` and summed in float64 (in the order of
 * `chunks`, then of the transitions).
 *
 * @example
 * ```ts ignore
 * const { sums, terms } = sliceGradient({ policy, adapter, objective }, data, [0, 1], 1 / 16);
 * ```
 */
export function sliceGradient(
  model: GradientModel,
  data: UpdateData,
  chunks: readonly number[],
  weight: number,
): SliceGradient {
  const variables = model.adapter.variables;
  const sums = variables.map((v) => new Float64Array(v.size));
  const terms = chunks.map((chunk) =>
    microBatchGradient(model, data, chunk, (grads) => {
      variables.forEach((variable, i) => {
        const values = grads[variable.name].dataSync();
        const sum = sums[i];
        for (let j = 0; j < sum.length; j++) sum[j] += weight * values[j];
      });
    })
  );
  return { sums, terms };
}

/** Runs the objective and its gradient on every stochastic transition of micro-batch `chunk`. */
function microBatchGradient(
  { policy, adapter, objective }: GradientModel,
  data: UpdateData,
  chunk: number,
  accumulate: (grads: tf.NamedTensorMap) => void,
): TransitionTerms[] {
  const { rollout, advantages, microBatch } = data;
  const members = data.active.subarray(chunk * microBatch, (chunk + 1) * microBatch);
  const [c, h, w] = rollout.sampleShape;
  const size = c * h * w;
  const n = rollout.logProbOld[0].length;
  const textLength = rollout.tokens.length / n;
  const rows = <T extends Float32Array | Int32Array>(a: T, width: number): T =>
    gatherRows(a, members, width);
  const shape = [members.length, c, h, w] as [number, number, number, number];
  const tokens = tf.tensor2d(
    rows(rollout.tokens, textLength),
    [members.length, textLength],
    "int32",
  );
  const out: TransitionTerms[] = [];
  for (let k = 0; k < policy.stochasticSteps; k++) {
    const old = rows(rollout.logProbOld[k], 1);
    const batch = {
      step: k,
      x: tf.tensor4d(rows(rollout.states[k], size), shape),
      next: tf.tensor4d(rows(rollout.states[k + 1], size), shape),
      tokens,
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
    accumulate(grads);
    const lps = logProb!.dataSync();
    out.push({
      loss: value.dataSync()[0],
      ratio: ratio!.dataSync() as Float32Array,
      kl: kl!.dataSync() as Float32Array,
      approxKl: Float64Array.from(old, (o, i) => 0.5 * (lps[i] - o) ** 2),
    });
    tf.dispose([value, ...Object.values(grads), ratio!, kl!, logProb!]);
    tf.dispose([batch.x, batch.next, batch.logProbOld, batch.advantages]);
    if (batch.referenceMean) batch.referenceMean.dispose();
  }
  tokens.dispose();
  return out;
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
