/**
 * Saved tensors without copies. When TF.js records a kernel for backprop it
 * saves the inputs and outputs the gradient needs as clones, and each clone
 * is an `Identity` kernel run plus a tape node (a few hundred per training
 * step of the flow-map network). The clone only has to keep the data alive
 * past the forward pass's `tidy`, so at gradient depth 1 (no outer
 * gradient that could differentiate through the saved tensors) this saves a
 * new handle on the same data instead: the same reference count, no kernel,
 * no tape node. Nested gradients keep TF.js's own path.
 *
 * {@link isRecordingGradients} tells kernels whether the tape records, so
 * they can skip outputs that only a gradient uses.
 *
 * This patches an internal method of tfjs-core's engine, so it checks the
 * version and the engine's shape and throws if either changed.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/** The tfjs-core release whose engine internals this is written against. */
const TFJS_CORE_VERSION = "4.22.0";

/** The engine internals used (tfjs-core 4.22 `Engine`). */
interface EngineInternals {
  isTapeOn(): boolean;
  saveTensorsForBackwardMode(tensors: tf.Tensor[]): tf.Tensor[];
  makeTensorFromDataId(dataId: object, shape: number[], dtype: tf.DataType): tf.Tensor;
  keep<T extends tf.Tensor>(tensor: T): T;
  state: {
    gradientDepth: number;
    tensorInfo: { get(dataId: object): { backend: { incRef(dataId: object): void } } | undefined };
  };
}

let restore: (() => void) | undefined;

/** The engine, after checking that it has the internals used here. */
function checkedEngine(): EngineInternals {
  const engine = tf.engine() as unknown as EngineInternals;
  if (
    tf.version_core !== TFJS_CORE_VERSION ||
    typeof engine.isTapeOn !== "function" ||
    typeof engine.saveTensorsForBackwardMode !== "function" ||
    typeof engine.makeTensorFromDataId !== "function" ||
    typeof engine.state?.gradientDepth !== "number" ||
    typeof engine.state.tensorInfo?.get !== "function"
  ) {
    throw new Error(
      `kernels/tfjs-saved.ts patches tfjs-core ${TFJS_CORE_VERSION}'s engine; found ` +
        `${tf.version_core}, whose engine differs: update the patch or remove it`,
    );
  }
  return engine;
}

/**
 * Whether TF.js records kernels for a gradient right now (inside
 * `tf.grad`/`variableGrads` and not within another kernel), so a kernel can
 * skip outputs only its gradient needs. Throws like
 * {@link installSavedTensorSharing} if the engine changed.
 *
 * @example
 * ```ts
 * import { isRecordingGradients } from "./tfjs-saved.ts";
 * isRecordingGradients(); // false outside a gradient computation
 * ```
 */
export function isRecordingGradients(): boolean {
  return checkedEngine().isTapeOn();
}

/**
 * Makes the engine save tensors for backprop as shared handles (idempotent);
 * returns a function that restores TF.js's clones. Throws if tfjs-core is not
 * the version this was written against or its engine lacks the methods used.
 *
 * @example
 * ```ts
 * import { installSavedTensorSharing } from "./tfjs-saved.ts";
 * const uninstall = installSavedTensorSharing();
 * uninstall();
 * ```
 */
export function installSavedTensorSharing(): () => void {
  if (restore) return uninstallSavedTensorSharing;
  const engine = checkedEngine();
  const own = Object.hasOwn(engine, "saveTensorsForBackwardMode");
  const original = engine.saveTensorsForBackwardMode;
  engine.saveTensorsForBackwardMode = function (tensors) {
    if (this.state.gradientDepth !== 1) return original.call(this, tensors);
    return tensors.map((tensor) => {
      const info = this.state.tensorInfo.get(tensor.dataId);
      if (!info) return original.call(this, [tensor])[0];
      const handle = this.makeTensorFromDataId(tensor.dataId, tensor.shape, tensor.dtype);
      info.backend.incRef(tensor.dataId);
      return this.keep(handle);
    });
  };
  restore = () => {
    if (own) engine.saveTensorsForBackwardMode = original;
    else delete (engine as Partial<EngineInternals>).saveTensorsForBackwardMode;
  };
  return uninstallSavedTensorSharing;
}

/**
 * Restores TF.js's own saving (a no-op when not installed).
 *
 * @example
 * ```ts
 * import { uninstallSavedTensorSharing } from "./tfjs-saved.ts";
 * uninstallSavedTensorSharing();
 * ```
 */
export function uninstallSavedTensorSharing(): void {
  restore?.();
  restore = undefined;
}
