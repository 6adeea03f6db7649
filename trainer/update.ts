/**
 * The policy update of one iteration (docs/math.md §6): passes over the
 * rollout's micro-batches (`gradients.ts`: the trajectories with some
 * non-zero advantage, in rollout order), one objective per stochastic
 * transition, gradients accumulated over `accumulation` micro-batches (all
 * their transitions) per AdamW step, the EMA folded in after each step.
 *
 * The first pass keeps rollout order, so every transition before the first
 * optimiser step is evaluated exactly on-policy (ratio = 1; reported as
 * `firstUpdateRatioDeviation`). Later passes visit the micro-batches in a
 * seeded random order.
 *
 * Data-parallel: with {@link GradientPeer}s (other workers holding the same
 * policy), this thread and the peers draw each optimiser step's units (one
 * stochastic transition of one micro-batch) from a shared counter, so none
 * waits for another's fixed share; the units' gradients are added in float64
 * in unit order before the step, whoever computed them, so the gradient norm
 * and its clip see the whole step's gradient and the sum is the one a single
 * worker makes.
 *
 * @module
 */

import { UniformStream } from "../src/rng.ts";
import { alongside } from "./alongside.ts";
import type { ObjectiveOptions } from "./grpo.ts";
import {
  drawGradients,
  microBatchCount,
  type StepWork,
  type TransitionTerms,
  type UnitGradient,
  type UpdateData,
  updateData,
  WorkCounter,
} from "./gradients.ts";
import type { LoraAdapter } from "./model/lora.ts";
import type { AdamW, WeightEma } from "./optimizer.ts";
import type { FlowMapPolicy } from "./policy.ts";
import type { Rollout } from "./rollout.ts";

/** Sub-stream that orders micro-batches in passes after the first ("UPDT"). */
const ORDER_STREAM = 0x55504454;

/** What the update needs besides the rollout. */
export interface UpdateContext {
  /** The policy. */
  readonly policy: FlowMapPolicy;
  /** The trained adapter. */
  readonly adapter: LoraAdapter;
  /** AdamW over the adapter's variables (or any sink of weighted gradients). */
  readonly optimizer: Pick<AdamW, "add" | "step" | "stepCount">;
  /** EMA of the adapter's variables. */
  readonly ema: Pick<WeightEma, "update">;
  /** Objective hyperparameters. */
  readonly objective: ObjectiveOptions;
  /** Trajectories per micro-batch. */
  readonly microBatch: number;
  /** Micro-batches per optimiser step. */
  readonly accumulation: number;
  /** Passes over the rollout. */
  readonly innerEpochs: number;
  /** Run seed and iteration (order of later passes). */
  readonly seed: number;
  /** Iteration number. */
  readonly iteration: number;
  /** Other workers, each drawing units of every optimiser step (default: none). */
  readonly peers?: readonly GradientPeer[];
}

/**
 * Another worker that holds the same policy and computes the gradients of
 * units of a step. A thread that shares memory draws them one at a time
 * ({@linkcode drawGradients}); one that cannot (a process on a GPU) claims a
 * block up front, `new WorkCounter(work.counter).take(n)`, before this thread
 * starts drawing.
 */
export interface GradientPeer {
  /** Receives the iteration's update data, before any {@link GradientPeer.gradients} call. */
  prepare(data: UpdateData): void;
  /** The gradients of the units of `work` it draws, with the adapter at `weights`. */
  gradients(weights: readonly Float32Array[], work: StepWork): Promise<UnitGradient[]>;
}

/** Statistics of one update. */
export interface UpdateStats {
  /** Mean objective over transitions and micro-batches. */
  readonly loss: number;
  /** Mean KL to the reference per transition. */
  readonly kl: number;
  /** Fraction of samples whose ratio left `[1 − eps, 1 + eps]`. */
  readonly clipFraction: number;
  /** Mean ratio. */
  readonly ratioMean: number;
  /** `mean(½ (log_prob − log_prob_old)²)`, the usual approximate KL to the old policy. */
  readonly approxKl: number;
  /** Largest `|ratio − 1|` before the first optimiser step (0 when exactly on-policy). */
  readonly firstUpdateRatioDeviation: number;
  /** Mean gradient norm before clipping. */
  readonly gradNorm: number;
  /** Optimiser steps taken. */
  readonly optimizerSteps: number;
  /** Trajectories left out because every advantage was ≈ 0. */
  readonly skipped: number;
}

/**
 * Runs the update over a rollout with its per-transition advantages
 * (`advantages[k][i]`), changing only the adapter's variables.
 */
export async function updatePolicy(
  context: UpdateContext,
  rollout: Rollout,
  advantages: readonly Float32Array[],
): Promise<UpdateStats> {
  const { policy, optimizer, ema, accumulation } = context;
  const peers = context.peers ?? [];
  const data = updateData(rollout, advantages, context.microBatch);
  for (const peer of peers) peer.prepare(data);
  const variables = context.adapter.variables;
  const weight = 1 / (accumulation * policy.stochasticSteps);
  const totals: Totals = {
    loss: 0,
    kl: 0,
    clipped: 0,
    ratio: 0,
    approxKl: 0,
    samples: 0,
    terms: 0,
  };
  let firstDeviation = 0, gradNorms = 0, steps = 0;
  const counter = new WorkCounter();
  for (const chunks of stepPlan(microBatchCount(data), context)) {
    counter.reset();
    const work = { chunks, counter: counter.buffer };
    const weights = peers.length > 0 ? variables.map((v) => v.dataSync() as Float32Array) : [];
    const remote = peers.map((peer) => peer.gradients(weights, work));
    const [local, others] = await alongside(remote, () => drawGradients(context, data, work));
    const units = [...local, ...others.flat()].sort((a, b) => a.unit - b.unit);
    if (units.length !== chunks.length * policy.stochasticSteps) {
      throw new Error(`${units.length} unit gradients for ${chunks.length} micro-batches`);
    }
    for (const { grads, terms } of units) {
      optimizer.add(grads, weight);
      tally(totals, terms, context.objective.clipRange);
      if (steps > 0) continue;
      for (const r of terms.ratio) firstDeviation = Math.max(firstDeviation, Math.abs(r - 1));
    }
    gradNorms += optimizer.step();
    steps += 1;
    ema.update(variables.map((v) => v.dataSync() as Float32Array), optimizer.stepCount - 1);
  }
  const per = (sum: number, count: number) => (count > 0 ? sum / count : 0);
  return {
    loss: per(totals.loss, totals.terms),
    kl: per(totals.kl, totals.samples),
    clipFraction: per(totals.clipped, totals.samples),
    ratioMean: totals.samples > 0 ? totals.ratio / totals.samples : 1,
    approxKl: per(totals.approxKl, totals.samples),
    firstUpdateRatioDeviation: firstDeviation,
    gradNorm: steps > 0 ? gradNorms / steps : 0,
    optimizerSteps: steps,
    skipped: rollout.prompts.length - data.active.length,
  };
}

/** Running sums of the update's statistics. */
interface Totals {
  loss: number;
  kl: number;
  clipped: number;
  ratio: number;
  approxKl: number;
  samples: number;
  terms: number;
}

/** Adds one transition's terms to `totals` (ratios beyond `clipRange` count as clipped). */
function tally(totals: Totals, terms: TransitionTerms, clipRange: number): void {
  const { ratio, kl, approxKl } = terms;
  for (let i = 0; i < ratio.length; i++) {
    if (Math.abs(ratio[i] - 1) > clipRange) totals.clipped += 1;
    totals.ratio += ratio[i];
    totals.kl += kl[i];
    totals.approxKl += approxKl[i];
  }
  totals.samples += ratio.length;
  totals.loss += terms.loss;
  totals.terms += 1;
}

/**
 * The micro-batches of each optimiser step: the passes' orders one after
 * another, cut into runs of `accumulation` (a step may span two passes; the
 * last may be shorter).
 */
function stepPlan(
  chunks: number,
  { innerEpochs, accumulation, seed, iteration }: UpdateContext,
): number[][] {
  const visits = Array.from(
    { length: innerEpochs },
    (_, epoch) => passOrder(chunks, epoch, seed, iteration),
  ).flat();
  return Array.from(
    { length: Math.ceil(visits.length / accumulation) },
    (_, s) => visits.slice(s * accumulation, (s + 1) * accumulation),
  );
}

/** Micro-batch order of a pass: rollout order first, then seeded shuffles. */
function passOrder(chunks: number, epoch: number, seed: number, iteration: number): number[] {
  const order = [...Array(chunks).keys()];
  if (epoch === 0) return order;
  const rng = new UniformStream(seed, ORDER_STREAM + iteration * 1024 + epoch);
  for (let i = chunks - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
