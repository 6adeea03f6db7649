/**
 * One LoRA-adapted linear layer and the checks every module passes, whether
 * it was read from a file or built in memory.
 *
 * @module
 */

import { LoraError } from "./lora_error.ts";

/** One adapted linear layer. */
export interface LoraModule {
  /** Normalised module path, e.g. `transformer_blocks.0.attn.to_q`. */
  readonly module: string;
  /** LoRA rank `r`. */
  readonly rank: number;
  /** Input features of the layer (`in`). */
  readonly inFeatures: number;
  /** Output features of the layer (`out`). */
  readonly outFeatures: number;
  /** LoRA alpha; the update is scaled by `alpha / rank`. */
  readonly alpha: number;
  /** `A`, `[rank, inFeatures]`, row-major. */
  readonly a: Float32Array;
  /** `B`, `[outFeatures, rank]`, row-major. */
  readonly b: Float32Array;
}

/**
 * Checks a module's sizes against its arrays, its alpha, and that its
 * weights are finite; throws a {@linkcode LoraError} naming the module.
 */
export function checkLoraModule(module: LoraModule): void {
  const { module: name, rank, inFeatures, outFeatures, alpha, a, b } = module;
  const sizes = [rank, inFeatures, outFeatures];
  if (!sizes.every((size) => Number.isSafeInteger(size) && size > 0)) {
    throw new LoraError(
      "invalid_shape",
      `${name}: rank, inFeatures and outFeatures must be positive integers, got ${
        sizes.join(", ")
      }`,
      [name],
    );
  }
  if (a.length !== rank * inFeatures || b.length !== outFeatures * rank) {
    throw new LoraError(
      "invalid_shape",
      `${name}: A must be [r, in] and B [out, r] with one rank r; got A with ${a.length} values ` +
        `and B with ${b.length} for r = ${rank}, in = ${inFeatures}, out = ${outFeatures}`,
      [name],
    );
  }
  if (!Number.isFinite(alpha) || alpha <= 0) {
    const message = `${name}: alpha must be positive and finite, got ${alpha}`;
    throw new LoraError("invalid_alpha", message, [name]);
  }
  if (!a.every(Number.isFinite) || !b.every(Number.isFinite)) {
    throw new LoraError("non_finite", `${name}: LoRA weights contain NaN or infinity`, [name]);
  }
}
