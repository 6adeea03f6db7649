/**
 * The clipped Flow-Map GRPO objective (docs/math.md §6) for one stochastic
 * transition of a micro-batch:
 *
 *     ratio = exp(log_prob_theta − log_prob_old)
 *     L     = max(−A·ratio, −A·clamp(ratio, 1 − eps_clip, 1 + eps_clip)) + beta·kl
 *
 * averaged over the micro-batch, with the log-probability and KL of §5.5
 * (reduction and KL scale are named options). Only the adapter receives
 * gradients; the reference policy is the base with LoRA off.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { KlScale, Reduction } from "../src/logprob.ts";
import type { LinearAdapter } from "./model/tfjs.ts";
import { type FlowMapPolicy, tensorGaussianKl, tensorGaussianLogProb } from "./policy.ts";

/** One stochastic transition of a micro-batch, as recorded by the rollout. */
export interface TransitionBatch {
  /** Transition index k (from `x_k` to `x_{k+1}`). */
  readonly step: number;
  /** `x_k`. */
  readonly x: tf.Tensor4D;
  /** `x_{k+1}`, the action taken. */
  readonly next: tf.Tensor4D;
  /** Prompt tokens. */
  readonly tokens: tf.Tensor2D;
  /** `log pi_old(x_{k+1} | x_k)`. */
  readonly logProbOld: tf.Tensor1D;
  /** Advantages, already clipped. */
  readonly advantages: tf.Tensor1D;
  /** Reference-policy mean (needed when `klBeta > 0`). */
  readonly referenceMean?: tf.Tensor4D;
}

/** Hyperparameters of the objective. */
export interface ObjectiveOptions {
  /** eps_clip of the ratio. */
  readonly clipRange: number;
  /** beta, the KL weight. */
  readonly klBeta: number;
  /** Which std the KL divides by. */
  readonly klScale: KlScale;
  /** How log-probabilities and the KL reduce over elements. */
  readonly reduction: Reduction;
}

/** The objective and the per-sample quantities it was built from. */
export interface ObjectiveTerms {
  /** The scalar to minimise. */
  readonly loss: tf.Scalar;
  /** `exp(log_prob_theta − log_prob_old)` per sample. */
  readonly ratio: tf.Tensor1D;
  /** `log_prob_theta` per sample. */
  readonly logProb: tf.Tensor1D;
  /** KL to the reference per sample (zeros when `klBeta = 0`). */
  readonly kl: tf.Tensor1D;
}

/**
 * Builds the objective for one transition (call it inside
 * `tf.variableGrads`; the terms other than `loss` are for logging).
 */
export function grpoObjective(
  policy: FlowMapPolicy,
  adapter: LinearAdapter,
  batch: TransitionBatch,
  options: ObjectiveOptions,
): ObjectiveTerms {
  const step = policy.step(batch.step);
  const mean = policy.transitionMean(batch.step, { x: batch.x, tokens: batch.tokens }, adapter);
  const logProb = tensorGaussianLogProb(batch.next, mean, step.std, options.reduction);
  const ratio = tf.exp(tf.sub(logProb, batch.logProbOld)) as tf.Tensor1D;
  const a = batch.advantages;
  const unclipped = tf.mul(tf.neg(a), ratio);
  const clipped = tf.mul(
    tf.neg(a),
    tf.clipByValue(ratio, 1 - options.clipRange, 1 + options.clipRange),
  );
  const policyLoss = tf.mean(tf.maximum(unclipped, clipped));
  let kl: tf.Tensor1D;
  let loss: tf.Scalar;
  if (options.klBeta > 0) {
    if (batch.referenceMean === undefined) {
      throw new RangeError("a KL weight > 0 needs the reference means of the rollout");
    }
    kl = tensorGaussianKl(mean, batch.referenceMean, step, options.klScale, options.reduction);
    loss = tf.add(policyLoss, tf.mul(tf.mean(kl), options.klBeta)) as tf.Scalar;
  } else {
    kl = tf.zerosLike(ratio);
    loss = policyLoss as tf.Scalar;
  }
  return { loss, ratio, logProb, kl };
}
