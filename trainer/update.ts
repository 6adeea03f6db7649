/**
 * The policy update of one iteration (docs/math.md §6): passes over the
 * rollout's micro-batches, one objective per stochastic transition,
 * gradients accumulated over `accumulation` micro-batches (all their
 * transitions) per AdamW step, the EMA folded in after each step.
 *
 * Trajectories whose advantages are all ≈ 0 carry no policy gradient and
 * are left out (their backward pass is skipped); the rest form the
 * micro-batches, in rollout order. The first pass keeps that order, so every
 * transition before the first optimiser step is evaluated exactly on-policy
 * (ratio = 1; reported as `firstUpdateRatioDeviation`). Later passes visit the
 * micro-batches in a seeded random order.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { UniformStream } from "../src/rng.ts";
import { grpoObjective, type ObjectiveOptions } from "./grpo.ts";
import type { LoraAdapter } from "./model/lora.ts";
import type { AdamW, WeightEma } from "./optimizer.ts";
import type { FlowMapPolicy } from "./policy.ts";
import type { Rollout } from "./rollout.ts";

/** Sub-stream that orders micro-batches in passes after the first ("UPDT"). */
const ORDER_STREAM = 0x55504454;
/** Advantages at most this large in magnitude count as 0 (no policy gradient to follow). */
const ZERO_ADVANTAGE = 1e-6;

/** What the update needs besides the rollout. */
export interface UpdateContext {
  /** The policy. */
  readonly policy: FlowMapPolicy;
  /** The trained adapter. */
  readonly adapter: LoraAdapter;
  /** AdamW over the adapter's variables (or any sink of weighted gradients). */
  readonly optimizer: Pick<AdamW, "accumulate" | "step" | "stepCount">;
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
export function updatePolicy(
  context: UpdateContext,
  data: Rollout,
  advantages: readonly Float32Array[],
): UpdateStats {
  const { policy, adapter, optimizer, ema, microBatch, accumulation } = context;
  const P = policy.stochasticSteps;
  const [c, h, w] = data.sampleShape;
  const size = c * h * w;
  const textLength = data.tokens.length / data.prompts.length;
  const active = activeTrajectories(advantages, data.prompts.length);
  const chunks = Math.ceil(active.length / microBatch);
  const variables = adapter.variables;
  const totals = { loss: 0, kl: 0, clipped: 0, ratio: 0, approxKl: 0, samples: 0, terms: 0 };
  let firstDeviation = 0, gradNorms = 0, steps = 0, pending = 0;

  const takeStep = () => {
    gradNorms += optimizer.step();
    steps += 1;
    ema.update(variables.map((v) => v.dataSync() as Float32Array), optimizer.stepCount - 1);
    pending = 0;
  };

  for (let epoch = 0; epoch < context.innerEpochs; epoch++) {
    const order = passOrder(chunks, epoch, context.seed, context.iteration);
    for (const chunk of order) {
      const members = active.subarray(chunk * microBatch, (chunk + 1) * microBatch);
      const rows = <T extends Float32Array | Int32Array>(a: T, width: number): T =>
        gatherRows(a, members, width);
      const shape = [members.length, c, h, w] as [number, number, number, number];
      const tokens = tf.tensor2d(
        rows(data.tokens, textLength),
        [members.length, textLength],
        "int32",
      );
      for (let k = 0; k < P; k++) {
        const batch = {
          step: k,
          x: tf.tensor4d(rows(data.states[k], size), shape),
          next: tf.tensor4d(rows(data.states[k + 1], size), shape),
          tokens,
          logProbOld: tf.tensor1d(rows(data.logProbOld[k], 1)),
          advantages: tf.tensor1d(rows(advantages[k], 1)),
          referenceMean: data.referenceMeans
            ? tf.tensor4d(rows(data.referenceMeans[k], size), shape)
            : undefined,
        };
        let ratio: tf.Tensor1D | undefined, kl: tf.Tensor1D | undefined;
        let logProb: tf.Tensor1D | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const terms = grpoObjective(policy, adapter, batch, context.objective);
          ratio = tf.keep(terms.ratio);
          kl = tf.keep(terms.kl);
          logProb = tf.keep(terms.logProb);
          return terms.loss;
        }, variables);
        optimizer.accumulate(grads, 1 / (accumulation * P));
        const ratios = ratio!.dataSync(), kls = kl!.dataSync(), lps = logProb!.dataSync();
        const old = rows(data.logProbOld[k], 1);
        for (let i = 0; i < ratios.length; i++) {
          if (Math.abs(ratios[i] - 1) > context.objective.clipRange) totals.clipped += 1;
          if (steps === 0) firstDeviation = Math.max(firstDeviation, Math.abs(ratios[i] - 1));
          totals.ratio += ratios[i];
          totals.kl += kls[i];
          totals.approxKl += 0.5 * (lps[i] - old[i]) ** 2;
        }
        totals.samples += ratios.length;
        totals.loss += value.dataSync()[0];
        totals.terms += 1;
        tf.dispose([value, ...Object.values(grads), ratio!, kl!, logProb!]);
        tf.dispose([batch.x, batch.next, batch.logProbOld, batch.advantages]);
        if (batch.referenceMean) batch.referenceMean.dispose();
      }
      tokens.dispose();
      pending += 1;
      if (pending === accumulation) takeStep();
    }
  }
  if (pending > 0) takeStep();
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
    skipped: data.prompts.length - active.length,
  };
}

/** Indices of the trajectories with some advantage above {@link ZERO_ADVANTAGE} in magnitude. */
function activeTrajectories(advantages: readonly Float32Array[], n: number): Int32Array {
  const keep: number[] = [];
  for (let i = 0; i < n; i++) {
    if (advantages.some((a) => Math.abs(a[i]) > ZERO_ADVANTAGE)) keep.push(i);
  }
  return Int32Array.from(keep);
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
