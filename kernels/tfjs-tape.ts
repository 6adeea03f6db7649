/**
 * Lighter bookkeeping of TF.js's gradient tape, for the fused kernels:
 *
 * - Saved tensors without copies. When TF.js records a kernel for backprop
 *   it saves the inputs and outputs the gradient needs as clones, and each
 *   clone is an `Identity` kernel run plus a tape node (a few hundred per
 *   training step of the flow-map network). The clone only has to keep the
 *   data alive past the forward pass's `tidy`, so at gradient depth 1 (no
 *   outer gradient that could differentiate through the saved tensors) a new
 *   handle on the same data is saved instead: the same reference count, no
 *   kernel, no tape node. Nested gradients keep TF.js's own path.
 * - No zeros for outputs that carry no gradient. Backprop hands a kernel's
 *   gradient function a new zero tensor for every output nothing
 *   differentiated (GELU's slope, attention's probabilities: megabytes per
 *   step); outputs declared with {@link declareOutputsWithoutGradient} get
 *   the output itself as a stand-in, which their gradient functions ignore.
 * - {@link isRecordingGradients} tells kernels whether the tape records, so
 *   they can skip outputs that only a gradient uses.
 *
 * This patches internal methods of tfjs-core's engine, so it checks the
 * version and the engine's shape and throws if either changed.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/** The tfjs-core release whose engine internals this is written against. */
const TFJS_CORE_VERSION = "4.22.0";

/** A recorded kernel (tfjs-core 4.22 `TapeNode`). */
interface TapeNode {
  kernelName: string;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => unknown;
}

/** The engine internals used (tfjs-core 4.22 `Engine`). */
interface EngineInternals {
  isTapeOn(): boolean;
  saveTensorsForBackwardMode(tensors: tf.Tensor[]): tf.Tensor[];
  addTapeNode(kernelName: string, ...rest: unknown[]): void;
  makeTensorFromDataId(dataId: object, shape: number[], dtype: tf.DataType): tf.Tensor;
  keep<T extends tf.Tensor>(tensor: T): T;
  state: {
    gradientDepth: number;
    activeTape: TapeNode[];
    tensorInfo: { get(dataId: object): { backend: { incRef(dataId: object): void } } | undefined };
  };
}

/** The patched methods, by name. */
const PATCHED = ["saveTensorsForBackwardMode", "addTapeNode"] as const;

/** Output indices without a gradient, by kernel name. */
const gradientless = new Map<string, readonly number[]>();
let restore: (() => void) | undefined;

/** The engine, after checking that it has the internals used here. */
function checkedEngine(): EngineInternals {
  const engine = tf.engine() as unknown as EngineInternals;
  if (
    tf.version_core !== TFJS_CORE_VERSION ||
    typeof engine.isTapeOn !== "function" ||
    PATCHED.some((name) => typeof engine[name] !== "function") ||
    typeof engine.makeTensorFromDataId !== "function" ||
    typeof engine.state?.gradientDepth !== "number" ||
    typeof engine.state.tensorInfo?.get !== "function"
  ) {
    throw new Error(
      `kernels/tfjs-tape.ts patches tfjs-core ${TFJS_CORE_VERSION}'s engine; found ` +
        `${tf.version_core}, whose engine differs: update the patch or remove it`,
    );
  }
  return engine;
}

/**
 * Whether TF.js records kernels for a gradient right now (inside
 * `tf.grad`/`variableGrads` and not within another kernel), so a kernel can
 * skip outputs only its gradient needs. Throws like
 * {@link installTapePatches} if the engine changed.
 *
 * @example
 * ```ts
 * import { isRecordingGradients } from "./tfjs-tape.ts";
 * isRecordingGradients(); // false outside a gradient computation
 * ```
 */
export function isRecordingGradients(): boolean {
  return checkedEngine().isTapeOn();
}

/**
 * Declares outputs of `kernelName` that no gradient flows into (extra
 * outputs saved for its own gradient function, which must ignore their
 * `dy`): backprop passes a stand-in instead of a new zero tensor.
 *
 * @example
 * ```ts
 * import { declareOutputsWithoutGradient } from "./tfjs-tape.ts";
 * declareOutputsWithoutGradient("MyKernelWithSavedState", [1]);
 * ```
 */
export function declareOutputsWithoutGradient(
  kernelName: string,
  outputs: readonly number[],
): void {
  gradientless.set(kernelName, outputs);
}

/**
 * Installs the lighter bookkeeping on the engine (idempotent); returns a
 * function that restores TF.js's own. Throws if tfjs-core is not the version
 * this was written against or its engine lacks the internals used.
 *
 * @example
 * ```ts
 * import { installTapePatches } from "./tfjs-tape.ts";
 * const uninstall = installTapePatches();
 * uninstall();
 * ```
 */
export function installTapePatches(): () => void {
  if (restore) return uninstallTapePatches;
  const engine = checkedEngine();
  const own = Object.fromEntries(PATCHED.map((name) => [name, Object.hasOwn(engine, name)]));
  const save = engine.saveTensorsForBackwardMode, record = engine.addTapeNode;
  engine.saveTensorsForBackwardMode = function (tensors) {
    if (this.state.gradientDepth !== 1) return save.call(this, tensors);
    return tensors.map((tensor) => {
      const info = this.state.tensorInfo.get(tensor.dataId);
      if (!info) return save.call(this, [tensor])[0];
      const handle = this.makeTensorFromDataId(tensor.dataId, tensor.shape, tensor.dtype);
      info.backend.incRef(tensor.dataId);
      return this.keep(handle);
    });
  };
  engine.addTapeNode = function (kernelName, ...rest) {
    record.call(this, kernelName, ...rest);
    const skipped = gradientless.get(kernelName);
    const node = this.state.activeTape?.at(-1);
    const gradient = node?.gradient;
    if (!skipped || node?.kernelName !== kernelName || !gradient) return;
    node.gradient = (dys) =>
      gradient(dys.map((dy, i) => dy ?? (skipped.includes(i) ? node.outputs[i] : null)));
  };
  restore = () => {
    const patched = engine as unknown as Record<string, unknown>;
    const originals = { saveTensorsForBackwardMode: save, addTapeNode: record };
    for (const name of PATCHED) {
      if (own[name]) patched[name] = originals[name];
      else delete patched[name];
    }
  };
  return uninstallTapePatches;
}

/**
 * Restores TF.js's own bookkeeping (a no-op when not installed).
 *
 * @example
 * ```ts
 * import { uninstallTapePatches } from "./tfjs-tape.ts";
 * uninstallTapePatches();
 * ```
 */
export function uninstallTapePatches(): void {
  restore?.();
  restore = undefined;
}
