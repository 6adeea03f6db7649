/**
 * AdamW with global-norm gradient clipping and an exponential moving average
 * of the weights, over a model's `tf.Variable`s. State tables are host copies
 * so checkpoints can save and restore them exactly.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { ParameterTable } from "../model/parameters.ts";

/** AdamW hyperparameters (Loshchilov & Hutter: decay decoupled from the gradient). */
export interface AdamWOptions {
  /** First-moment decay; default 0.9. */
  readonly beta1?: number;
  /** Second-moment decay; default 0.99. */
  readonly beta2?: number;
  /** Denominator offset; default 1e-8. */
  readonly epsilon?: number;
  /** Decoupled weight decay on rank-2 weights; default 0.01. */
  readonly weightDecay?: number;
  /** Global gradient-norm clip; default 1. */
  readonly clipNorm?: number;
}

/**
 * AdamW over named variables. `step` applies one update from gradients and
 * returns the gradient norm before clipping.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { AdamW } from "./optim.ts";
 * const w = tf.variable(tf.ones([2, 2]));
 * const opt = new AdamW(new Map([["w", w]]));
 * const { grads } = tf.variableGrads(() => tf.sum(tf.square(w)));
 * opt.step({ w: grads[w.name] }, 1e-2);
 * ```
 */
export class AdamW {
  readonly #variables: ReadonlyMap<string, tf.Variable>;
  readonly #m = new Map<string, tf.Variable>();
  readonly #v = new Map<string, tf.Variable>();
  readonly #options: Required<AdamWOptions>;
  #steps = 0;

  /** Creates zero moments for every variable. */
  constructor(variables: ReadonlyMap<string, tf.Variable>, options: AdamWOptions = {}) {
    this.#variables = variables;
    this.#options = {
      beta1: options.beta1 ?? 0.9,
      beta2: options.beta2 ?? 0.99,
      epsilon: options.epsilon ?? 1e-8,
      weightDecay: options.weightDecay ?? 0.01,
      clipNorm: options.clipNorm ?? 1,
    };
    for (const [name, variable] of variables) {
      this.#m.set(name, tf.variable(tf.zerosLike(variable), false));
      this.#v.set(name, tf.variable(tf.zerosLike(variable), false));
    }
  }

  /** Updates applied so far. */
  get steps(): number {
    return this.#steps;
  }

  /**
   * One update with learning rate `lr` from gradients keyed by parameter
   * name (as in the variable map). Returns the unclipped global gradient norm.
   */
  step(grads: Readonly<Record<string, tf.Tensor>>, lr: number): number {
    const { beta1, beta2, epsilon, weightDecay, clipNorm } = this.#options;
    const norm = Math.sqrt(
      tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))).dataSync()[0]),
    );
    const scale = Number.isFinite(norm) && norm > clipNorm ? clipNorm / norm : 1;
    this.#steps++;
    const correct1 = 1 - beta1 ** this.#steps, correct2 = 1 - beta2 ** this.#steps;
    tf.tidy(() => {
      for (const [name, p] of this.#variables) {
        const g0 = grads[name];
        if (g0 === undefined) throw new RangeError(`no gradient for ${name}`);
        const g = scale === 1 ? g0 : tf.mul(g0, scale);
        const m = this.#m.get(name) as tf.Variable, v = this.#v.get(name) as tf.Variable;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const update = tf.div(tf.div(m, correct1), tf.add(tf.sqrt(tf.div(v, correct2)), epsilon));
        const decay = p.rank === 2 ? weightDecay : 0;
        const decayed = decay === 0 ? p : tf.mul(p, 1 - lr * decay);
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      }
    });
    return norm;
  }

  /** The moments as host tables (`m`, `v`) and the step count. */
  state(): { m: ParameterTable; v: ParameterTable; steps: number } {
    return { m: hostTable(this.#m), v: hostTable(this.#v), steps: this.#steps };
  }

  /** Restores moments and step count saved by {@link AdamW.state}. */
  load(state: { m: ParameterTable; v: ParameterTable; steps: number }): void {
    assignTable(this.#m, state.m);
    assignTable(this.#v, state.v);
    this.#steps = state.steps;
  }

  /** Frees the moments. */
  dispose(): void {
    for (const v of [...this.#m.values(), ...this.#v.values()]) v.dispose();
  }
}

/**
 * Exponential moving average of variables: `ema ← d·ema + (1 − d)·w`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { Ema } from "./optim.ts";
 * const ema = new Ema(new Map([["w", tf.variable(tf.ones([2]))]]));
 * ema.update(0.999);
 * ```
 */
export class Ema {
  readonly #source: ReadonlyMap<string, tf.Variable>;
  readonly #shadow = new Map<string, tf.Variable>();

  /** Starts the average at the current weights. */
  constructor(source: ReadonlyMap<string, tf.Variable>) {
    this.#source = source;
    for (const [name, v] of source) this.#shadow.set(name, tf.variable(v.clone(), false));
  }

  /** Moves the average toward the current weights with decay `decay`. */
  update(decay: number): void {
    tf.tidy(() => {
      for (const [name, w] of this.#source) {
        const s = this.#shadow.get(name) as tf.Variable;
        s.assign(tf.add(tf.mul(s, decay), tf.mul(w, 1 - decay)));
      }
    });
  }

  /** The averaged weights as a host table. */
  table(): ParameterTable {
    return hostTable(this.#shadow);
  }

  /** Restores the average from a host table. */
  load(table: ParameterTable): void {
    assignTable(this.#shadow, table);
  }

  /** Frees the average. */
  dispose(): void {
    for (const v of this.#shadow.values()) v.dispose();
  }
}

/**
 * Host copies of variables.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { hostTable } from "./optim.ts";
 * hostTable(new Map([["w", tf.variable(tf.ones([2]))]])).get("w")?.data; // [1, 1]
 * ```
 */
export function hostTable(variables: ReadonlyMap<string, tf.Variable>): ParameterTable {
  return new Map(
    [...variables].map(([name, v]) => [name, {
      shape: v.shape,
      data: (v.dataSync() as Float32Array).slice(),
    }]),
  );
}

/**
 * Assigns host values to variables of the same names and shapes.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { assignTable } from "./optim.ts";
 * const w = tf.variable(tf.zeros([2]));
 * assignTable(new Map([["w", w]]), new Map([["w", { shape: [2], data: Float32Array.of(1, 2) }]]));
 * ```
 */
export function assignTable(
  variables: ReadonlyMap<string, tf.Variable>,
  table: ParameterTable,
): void {
  for (const [name, variable] of variables) {
    const value = table.get(name);
    if (value === undefined || value.shape.join() !== variable.shape.join()) {
      throw new RangeError(`table has no value of shape [${variable.shape}] for ${name}`);
    }
    tf.tidy(() => variable.assign(tf.tensor(value.data, variable.shape)));
  }
}
