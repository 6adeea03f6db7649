/**
 * The error type of model loading.
 *
 * @module
 */

/**
 * A model that cannot be loaded or used: a missing or unreadable file, bytes
 * that are not an ONNX model, metadata that breaks the model-file contract,
 * or a model that was disposed.
 *
 * @example
 * ```ts
 * import { loadModel, ModelError } from "../../mod.ts";
 * try {
 *   await loadModel({ model: new Uint8Array(4), weights: new Uint8Array(0) });
 * } catch (error) {
 *   if (error instanceof ModelError) console.log(error.message);
 * }
 * ```
 */
export class ModelError extends Error {
  /** Creates the error with its message (and optionally the error that caused it). */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ModelError";
  }
}
