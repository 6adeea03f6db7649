/**
 * The error type of the safetensors reader and writer.
 *
 * @module
 */

/** Which rule of the format a file or tensor broke. */
export type SafetensorsErrorCode =
  | "truncated"
  | "header_too_large"
  | "header_out_of_bounds"
  | "invalid_utf8"
  | "invalid_json"
  | "not_object"
  | "duplicate_key"
  | "invalid_metadata"
  | "invalid_entry"
  | "unsupported_dtype"
  | "invalid_shape"
  | "invalid_offsets"
  | "offsets_out_of_bounds"
  | "length_mismatch"
  | "offsets_overlap"
  | "offsets_gap";

/**
 * A safetensors file or tensor that breaks the format's rules.
 *
 * @example Telling a malformed file apart from other failures
 * ```ts
 * import { parseSafetensors, SafetensorsError } from "./safetensors.ts";
 * try {
 *   parseSafetensors(new Uint8Array(3));
 * } catch (error) {
 *   if (error instanceof SafetensorsError) console.log(error.code); // "truncated"
 * }
 * ```
 */
export class SafetensorsError extends Error {
  /** The rule that was broken. */
  readonly code: SafetensorsErrorCode;

  /** Creates an error for `code` with a message that says what is wrong. */
  constructor(code: SafetensorsErrorCode, message: string) {
    super(message);
    this.name = "SafetensorsError";
    this.code = code;
  }
}
