/**
 * The policy update of one iteration (docs/math.md §6): passes over the
 * rollout's micro-batches, one objective per stochastic transition,
 * gradients accumulated over `accumulation` micro-batches (all their
 * transitions) per AdamW step, the EMA folded in after each step.
 *
 * The first pass keeps the rollout's micro-batch order, so every transition
 * before the first optimiser step is evaluated exactly on-policy
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
  const n = data.prompts.length;
  const chunks = n / microBatch;
  const P = policy.stochasticSteps;
  const [c, h, w] = data.sampleShape;
  const size = c * h * w;
  const textLength = data.tokens.length / n;
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
      const start = chunk * microBatch;
      const rows = <T extends Float32Array | Int32Array>(a: T, width: number): T =>
        a.subarray(start * width, (start + microBatch) * width) as T;
      const shape = [microBatch, c, h, w] as [number, number, number, number];
      const tokens = tf.tensor2d(rows(data.tokens, textLength), [microBatch, textLength], "int32");
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
  return {
    loss: totals.loss / totals.terms,
    kl: totals.kl / totals.samples,
    clipFraction: totals.clipped / totals.samples,
    ratioMean: totals.ratio / totals.samples,
    approxKl: totals.approxKl / totals.samples,
    firstUpdateRatioDeviation: firstDeviation,
    gradNorm: gradNorms / steps,
    optimizerSteps: steps,
  };
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
