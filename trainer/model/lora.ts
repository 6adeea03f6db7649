/**
 * LoRA for the TF.js model (docs/math.md §7): for each targeted linear layer with
 * `W: [out, in]`, trainable `A: [r, in]` and `B: [out, r]` add
 * `(alpha / r) · B (A x)` to its output; the base stays frozen.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { encodeLoraAdapter } from "../../src/lora/adapter.ts";
import { NormalStream } from "../../src/rng.ts";
import type { ModelConfig } from "./config.ts";
import {
  type HostTensor,
  type LinearModule,
  modelLayout,
  type ParameterTable,
} from "./parameters.ts";
import type { LinearAdapter } from "./tfjs.ts";
import type { LowRankFactors } from "../../kernels/tfjs-linear.ts";

/** Rank, alpha and the modules to adapt. */
export interface LoraOptions {
  /** Rank `r` of the update. */
  readonly rank: number;
  /** Scale numerator: the update is multiplied by `alpha / rank`. */
  readonly alpha: number;
  /**
   * Modules to adapt, PEFT-style: a string matches a module whose path equals
   * it or ends with `.` + it (`"to_q"`, `"ff.net.2"`); a RegExp is tested
   * against the full module path.
   */
  readonly targets: readonly (string | RegExp)[];
  /** Seed of `A`'s initialisation (default 0). */
  readonly seed?: number;
}

/** An adapter's tensors under PEFT keys, ready for a safetensors writer. */
export interface LoraExport {
  /** `<module>.lora_A.weight` `[r, in]` and `<module>.lora_B.weight` `[out, r]`. */
  readonly tensors: ReadonlyMap<string, HostTensor>;
  /** The adapter's alpha (PEFT's `lora_alpha`). */
  readonly alpha: number;
  /** The adapter's rank (PEFT's `r`). */
  readonly rank: number;
  /** Adapted module paths. */
  readonly modules: readonly string[];
}

/**
 * The linear modules of a config that LoRA targets select; throws if a
 * target matches nothing (a typo would otherwise train nothing).
 *
 * @example
 * ```ts
 * import { meanFlowConfig } from "./config.ts";
 * import { matchLoraTargets } from "./lora.ts";
 * matchLoraTargets(meanFlowConfig, ["to_q"]).length; // 4, one per block
 * ```
 */
export function matchLoraTargets(
  config: ModelConfig,
  targets: readonly (string | RegExp)[],
): LinearModule[] {
  if (targets.length === 0) throw new RangeError("LoRA needs at least one target module");
  const linears = modelLayout(config).linears;
  const matches = (target: string | RegExp, module: string) =>
    typeof target === "string"
      ? module === target || module.endsWith(`.${target}`)
      : target.test(module);
  for (const target of targets) {
    if (!linears.some((l) => matches(target, l.module))) {
      throw new RangeError(`LoRA target ${target} matches no linear module of this model`);
    }
  }
  return linears.filter((l) => targets.some((target) => matches(target, l.module)));
}

/**
 * A LoRA adapter as trainable TF.js variables. `B` starts at zero, so a fresh
 * adapter leaves the model unchanged; `A` starts with the variance of PEFT's
 * default (Kaiming-uniform, `a = √5`), from seeded Philox streams.
 *
 * @example Train only the adapter
 * ```ts
 * import { meanFlowConfig } from "./config.ts";
 * import { LoraAdapter } from "./lora.ts";
 * import { initParameters } from "./parameters.ts";
 * import { TfFlowMap } from "./tfjs.ts";
 *
 * const config = { ...meanFlowConfig, depth: 1 };
 * const base = new TfFlowMap(config, initParameters(config, 0), { trainable: false });
 * const lora = new LoraAdapter(config, { rank: 4, alpha: 4, targets: ["to_q", "to_k", "to_v"] });
 * // base.forward(inputs, lora) — only lora.variables receive gradients
 * lora.dispose();
 * base.dispose();
 * ```
 */
export class LoraAdapter implements LinearAdapter {
  /** Rank `r`. */
  readonly rank: number;
  /** Alpha; the update scale is `alpha / rank`. */
  readonly alpha: number;
  /** Adapted modules. */
  readonly modules: readonly LinearModule[];
  /** `A: [r, in]` by module. */
  readonly a: ReadonlyMap<string, tf.Variable>;
  /** `B: [out, r]` by module. */
  readonly b: ReadonlyMap<string, tf.Variable>;

  /** Creates the adapter's variables for the modules `options.targets` selects. */
  constructor(config: ModelConfig, options: LoraOptions) {
    if (!Number.isSafeInteger(options.rank) || options.rank < 1) {
      throw new RangeError(`LoRA rank must be a positive integer, got ${options.rank}`);
    }
    if (!(Number.isFinite(options.alpha) && options.alpha > 0)) {
      throw new RangeError(`LoRA alpha must be a positive number, got ${options.alpha}`);
    }
    this.rank = options.rank;
    this.alpha = options.alpha;
    this.modules = matchLoraTargets(config, options.targets);
    const r = this.rank;
    this.a = new Map(this.modules.map((l, index) => {
      const data = new NormalStream(options.seed ?? 0, index).fill(
        new Float32Array(r * l.inFeatures),
      );
      const std = 1 / Math.sqrt(3 * l.inFeatures);
      return [l.module, variable(data.map((v) => v * std), [r, l.inFeatures])];
    }));
    this.b = new Map(this.modules.map((l) => {
      return [l.module, variable(new Float32Array(l.outFeatures * r), [l.outFeatures, r])];
    }));
  }

  /** The update scale `alpha / rank`. */
  get scaling(): number {
    return this.alpha / this.rank;
  }

  /** All trainable variables (every `A` and `B`). */
  get variables(): tf.Variable[] {
    return [...this.a.values(), ...this.b.values()];
  }

  /**
   * The factors of an adapted module's update `(alpha / r) · B·A`, applied
   * as `(alpha / r) · (x Aᵀ) Bᵀ` (see `kernels/tfjs-linear.ts`); `undefined`
   * for other modules.
   */
  factors(module: string): LowRankFactors | undefined {
    const a = this.a.get(module), b = this.b.get(module);
    if (a === undefined || b === undefined) return undefined;
    return { a: a as tf.Tensor2D, b: b as tf.Tensor2D, scaling: this.scaling };
  }

  /**
   * The base table with adapted weights merged:
   * `W' = W + (alpha / r) · scale · B A` (`[out, in]`, docs/math.md §7).
   */
  mergedParameters(base: ParameterTable, scale = 1): ParameterTable {
    const merged = new Map(base);
    for (const { module } of this.modules) {
      const name = `${module}.weight`;
      const weight = base.get(name);
      if (weight === undefined) throw new RangeError(`base has no parameter ${name}`);
      const data = tf.tidy(() => {
        const delta = tf.matMul(
          this.b.get(module) as tf.Tensor2D,
          this.a.get(module) as tf.Tensor2D,
        );
        const w = tf.tensor2d(weight.data, [weight.shape[0], weight.shape[1]]);
        return tf.add(w, tf.mul(delta, tf.scalar(this.scaling * scale)));
      });
      merged.set(name, { shape: weight.shape, data: data.dataSync().slice() as Float32Array });
      data.dispose();
    }
    return merged;
  }

  /** The adapter's tensors under PEFT keys, with alpha and rank. */
  export(): LoraExport {
    const tensors = new Map<string, HostTensor>();
    for (const { module } of this.modules) {
      for (const [key, v] of [["lora_A", this.a], ["lora_B", this.b]] as const) {
        const value = v.get(module) as tf.Variable;
        tensors.set(`${module}.${key}.weight`, {
          shape: value.shape,
          data: value.dataSync().slice() as Float32Array,
        });
      }
    }
    return {
      tensors,
      alpha: this.alpha,
      rank: this.rank,
      modules: this.modules.map((l) => l.module),
    };
  }

  /**
   * The adapter as a PEFT-keyed safetensors file, what `generate` and the
   * service load. `values` (in {@linkcode LoraAdapter.variables} order, e.g.
   * EMA weights) replace the variables' own.
   *
   * @example
   * ```ts ignore
   * const bytes = adapter.safetensors({ trainer: "flow-map-grpo" });
   * ```
   */
  safetensors(
    metadata: Readonly<Record<string, string>> = {},
    values: readonly Float32Array[] = this.variables.map((v) => v.dataSync() as Float32Array),
  ): Uint8Array {
    const count = this.modules.length;
    if (values.length !== 2 * count) {
      throw new RangeError(
        `expected ${2 * count} arrays (every A, then every B), got ${values.length}`,
      );
    }
    return encodeLoraAdapter(
      this.modules.map((l, i) => ({
        module: l.module,
        rank: this.rank,
        inFeatures: l.inFeatures,
        outFeatures: l.outFeatures,
        alpha: this.alpha,
        a: values[i],
        b: values[count + i],
      })),
      metadata,
    );
  }

  /** Frees the variables. */
  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

function variable(data: Float32Array, shape: [number, number]): tf.Variable {
  const initial = tf.tensor2d(data, shape);
  const result = tf.variable(initial, true);
  initial.dispose();
  return result;
}
