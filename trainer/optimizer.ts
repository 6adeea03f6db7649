/**
 * Optimisation of the LoRA weights (docs/math.md §6): gradient accumulation,
 * a global gradient-norm clip, AdamW with decoupled weight decay (PyTorch's
 * `torch.optim.AdamW` update), and an EMA of the weights for evaluation and
 * export. State lives on the host in float64 (moments, accumulators) so it
 * checkpoints exactly; the weights stay float32 TF.js variables.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/** AdamW hyperparameters. */
export interface AdamWOptions {
  /** Learning rate. */
  readonly lr: number;
  /** `[beta1, beta2]`. */
  readonly betas: readonly [number, number];
  /** Decoupled weight decay. */
  readonly weightDecay: number;
  /** Denominator epsilon. */
  readonly eps: number;
  /** Largest global gradient norm; larger gradients are scaled down. */
  readonly gradClip: number;
  /** Which variables weight decay applies to; default all (pretraining decays only matrices). */
  readonly decays?: (variable: tf.Variable) => boolean;
}

/** The optimiser's state, for checkpoints. */
export interface AdamWState {
  /** Optimiser steps taken. */
  readonly step: number;
  /** First moments, one array per variable. */
  readonly m: readonly Float64Array[];
  /** Second moments, one array per variable. */
  readonly v: readonly Float64Array[];
}

/**
 * AdamW over a fixed list of variables, with gradient accumulation: add
 * weighted gradients with {@link AdamW.accumulate}, then {@link AdamW.step}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { AdamW } from "./optimizer.ts";
 * const w = tf.variable(tf.tensor1d([1, 2]));
 * const opt = new AdamW([w], { lr: 0.1, betas: [0.9, 0.999], weightDecay: 0, eps: 1e-8, gradClip: 1 });
 * const { grads } = tf.variableGrads(() => tf.sum(tf.square(w)) as tf.Scalar, [w]);
 * opt.accumulate(grads, 1);
 * opt.step(); // w ≈ [0.9, 1.9]
 * ```
 */
export class AdamW {
  readonly #variables: readonly tf.Variable[];
  readonly #options: AdamWOptions;
  readonly #sums: Float64Array[];
  #m: Float64Array[];
  #v: Float64Array[];
  #step = 0;

  /** Optimises `variables` (their names key the gradients). */
  constructor(variables: readonly tf.Variable[], options: AdamWOptions) {
    this.#variables = variables;
    this.#options = options;
    const zeros = () => variables.map((v) => new Float64Array(v.size));
    this.#sums = zeros();
    this.#m = zeros();
    this.#v = zeros();
  }

  /** Optimiser steps taken so far. */
  get stepCount(): number {
    return this.#step;
  }

  /** Adds `weight · grad` to the accumulated gradient of each variable. */
  accumulate(grads: tf.NamedTensorMap, weight: number): void {
    this.add(
      this.#variables.map((variable) => {
        const grad = grads[variable.name];
        if (grad === undefined) throw new RangeError(`no gradient for ${variable.name}`);
        return grad.dataSync();
      }),
      weight,
    );
  }

  /**
   * Adds `weight · grads[i]` to the accumulated gradient of variable `i`: the
   * gradients as plain arrays in variable order, e.g. taken by another worker
   * (`trainer/gradients.ts`).
   */
  add(grads: readonly ArrayLike<number>[], weight: number): void {
    if (grads.length !== this.#sums.length) {
      throw new RangeError(`${grads.length} gradients for ${this.#sums.length} variables`);
    }
    this.#sums.forEach((sum, i) => {
      const values = grads[i];
      if (values.length !== sum.length) {
        throw new RangeError(`gradient ${i} holds ${values.length} values, needs ${sum.length}`);
      }
      for (let j = 0; j < sum.length; j++) sum[j] += weight * values[j];
    });
  }

  /**
   * Clips the accumulated gradient to the global norm limit, applies one
   * AdamW update with learning rate `lr` (default: the configured one, e.g.
   * overridden during warm-up), clears the accumulator, and returns the norm
   * before clipping.
   */
  step(lr: number = this.#options.lr): number {
    const { betas: [b1, b2], weightDecay, eps, gradClip, decays } = this.#options;
    let squares = 0;
    for (const sum of this.#sums) {
      for (let j = 0; j < sum.length; j++) squares += sum[j] * sum[j];
    }
    const norm = Math.sqrt(squares);
    // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when above
    const scale = norm > gradClip ? gradClip / (norm + 1e-6) : 1;
    this.#step += 1;
    const correction1 = 1 - b1 ** this.#step, correction2 = 1 - b2 ** this.#step;
    this.#variables.forEach((variable, i) => {
      const weights = variable.dataSync() as Float32Array;
      const updated = new Float32Array(weights.length);
      const sum = this.#sums[i], m = this.#m[i], v = this.#v[i];
      const keep = 1 - lr * (decays === undefined || decays(variable) ? weightDecay : 0);
      for (let j = 0; j < weights.length; j++) {
        const g = sum[j] * scale;
        m[j] = b1 * m[j] + (1 - b1) * g;
        v[j] = b2 * v[j] + (1 - b2) * g * g;
        const decayed = weights[j] * keep;
        updated[j] = decayed - lr * (m[j] / correction1) / (Math.sqrt(v[j] / correction2) + eps);
      }
      sum.fill(0);
      const tensor = tf.tensor(updated, variable.shape);
      variable.assign(tensor);
      tensor.dispose();
    });
    return norm;
  }

  /** A copy of the state. */
  state(): AdamWState {
    return { step: this.#step, m: this.#m.map((a) => a.slice()), v: this.#v.map((a) => a.slice()) };
  }

  /** Restores a state saved by {@link AdamW.state}. */
  load(state: AdamWState): void {
    const sizes = this.#variables.map((v) => v.size);
    const fits = (arrays: readonly Float64Array[]) =>
      arrays.length === sizes.length && arrays.every((a, i) => a.length === sizes[i]);
    if (!fits(state.m) || !fits(state.v)) {
      throw new RangeError("optimiser state does not match the adapter's variables");
    }
    this.#step = state.step;
    this.#m = state.m.map((a) => a.slice());
    this.#v = state.v.map((a) => a.slice());
  }
}

/** EMA hyperparameters. */
export interface EmaOptions {
  /** The decay cap. */
  readonly decay: number;
  /** Update every this many optimiser steps. */
  readonly every: number;
}

/**
 * EMA of the LoRA weights as in Flow-GRPO: after optimiser step `n`
 * (0-based), when `(n + 1) % every == 0`,
 * `ema ← ema + (1 − d)·(w − ema)` with `d = min((1 + n) / (10 + n), decay)`.
 *
 * @example
 * ```ts
 * import { WeightEma } from "./optimizer.ts";
 * const ema = new WeightEma([Float32Array.of(0)], { decay: 0.9, every: 1 });
 * ema.update([Float32Array.of(1)], 0); // d = 0.1: ema = 0.9
 * ```
 */
export class WeightEma {
  readonly #options: EmaOptions;
  #values: Float32Array[];

  /** Starts the average at `initial` (copied). */
  constructor(initial: readonly Float32Array[], options: EmaOptions) {
    this.#options = options;
    this.#values = initial.map((a) => a.slice());
  }

  /** The averaged weights (do not modify). */
  get values(): readonly Float32Array[] {
    return this.#values;
  }

  /** Folds in the weights after optimiser step `n` (0-based); returns whether it updated. */
  update(weights: readonly Float32Array[], n: number): boolean {
    if ((n + 1) % this.#options.every !== 0) return false;
    const d = Math.min((1 + n) / (10 + n), this.#options.decay);
    this.#values.forEach((ema, i) => {
      const w = weights[i];
      for (let j = 0; j < ema.length; j++) ema[j] += (1 - d) * (w[j] - ema[j]);
    });
    return true;
  }

  /** Replaces the averaged weights (checkpoint restore). */
  load(values: readonly Float32Array[]): void {
    if (
      values.length !== this.#values.length ||
      values.some((a, i) => a.length !== this.#values[i].length)
    ) {
      throw new RangeError("EMA state does not match the adapter's variables");
    }
    this.#values = values.map((a) => a.slice());
  }
}
