/**
 * The error type of adapter parsing and merging.
 *
 * @module
 */

/** What is wrong with an adapter or with merging it. */
export type LoraErrorCode =
  | "empty_adapter"
  | "unrecognised_key"
  | "duplicate_module"
  | "incomplete_module"
  | "invalid_dtype"
  | "invalid_shape"
  | "non_finite"
  | "invalid_alpha"
  | "unsupported_config"
  | "reserved_metadata"
  | "invalid_target"
  | "invalid_base"
  | "invalid_scale"
  | "unknown_module"
  | "shape_mismatch";

/**
 * An adapter that cannot be read or merged. `modules` lists every module (or
 * key) concerned, so a mismatch names all offenders at once.
 *
 * @example
 * ```ts
 * import { LoraError, parseLoraAdapter } from "./adapter.ts";
 * import { encodeSafetensors } from "./safetensors.ts";
 * try {
 *   parseLoraAdapter(encodeSafetensors({}));
 * } catch (error) {
 *   if (error instanceof LoraError) console.log(error.code); // "empty_adapter"
 * }
 * ```
 */
export class LoraError extends Error {
  /** The kind of problem. */
  readonly code: LoraErrorCode;
  /** The modules or keys concerned, sorted. */
  readonly modules: readonly string[];

  /** Creates an error for `code` naming `modules`. */
  constructor(code: LoraErrorCode, message: string, modules: readonly string[] = []) {
    super(message);
    this.name = "LoraError";
    this.code = code;
    this.modules = Object.freeze([...modules].sort());
  }
}
