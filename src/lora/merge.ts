/**
 * Merging LoRA adapters into a model's external weights (docs/math.md §7).
 * ONNX `MatMul(x, W_onnx)` stores `W_onnx = W^T` with shape `[in, out]`, so an
 * adapter adds `(alpha / rank) · scale · A^T B^T` to it. The weights live in
 * the model's external-data buffer as little-endian float32; each
 * {@linkcode LoraTarget} says where one targetable layer's `W^T` sits. The
 * merged buffer is what the SDK hands ONNX Runtime as `externalData`.
 *
 * Arithmetic, exactly: for each target element the update
 * `delta = Σ_adapters c · (Σ_k A[k, i] · B[j, k])` with `c = (alpha / rank) · scale`
 * is accumulated in float64 (adapters in the given order, `k` ascending) and
 * added to the float32 base weight once, rounding to float32 once. Elements
 * whose `delta` is exactly 0 keep their base bytes. The base buffer is never
 * written, so merging no adapters returns the base bytes exactly and there is
 * no drift however often adapters are swapped.
 *
 * @module
 */

import { type LoraAdapter, LoraError, normaliseModulePath } from "./adapter.ts";
import { checkLoraModule, type LoraModule } from "./lora_module.ts";

/** Where one LoRA-targetable linear layer's weight lives in the external data. */
export interface LoraTarget {
  /** Module path that adapters name, e.g. `transformer_blocks.0.attn.to_q`. */
  readonly module: string;
  /** Name of the ONNX initializer holding `W^T` (used in messages). */
  readonly initializer: string;
  /** `[in, out]`: the shape of `W^T` as ONNX `MatMul` stores it. */
  readonly shape: readonly [number, number];
  /** Byte offset of the float32 little-endian weight in the external data. */
  readonly offset: number;
  /** Byte length of the weight: `in × out × 4`. */
  readonly length: number;
}

/** An adapter with the scale it is merged at (1 = as trained). */
export interface ScaledLoraAdapter {
  /** The parsed adapter. */
  readonly adapter: LoraAdapter;
  /** Multiplier of the adapter's update; 0 disables it, negative values subtract it. */
  readonly scale: number;
}

/**
 * Checks that every module of every adapter has a target with the same
 * shape, and that scales are finite. Throws a {@linkcode LoraError}
 * (`unknown_module` or `shape_mismatch`) whose message and `modules` name
 * every module that does not match.
 *
 * @example
 * ```ts
 * import type { LoraAdapter } from "./adapter.ts";
 * import { checkLoraAdapters, type LoraTarget } from "./merge.ts";
 * const targets: LoraTarget[] = [
 *   { module: "proj", initializer: "proj.weight", shape: [2, 2], offset: 0, length: 16 },
 * ];
 * const adapter: LoraAdapter = {
 *   metadata: {},
 *   modules: new Map([["proj", {
 *     module: "proj", rank: 1, inFeatures: 2, outFeatures: 2, alpha: 1,
 *     a: Float32Array.of(1, 0), b: Float32Array.of(0, 1),
 *   }]]),
 * };
 * checkLoraAdapters(targets, [{ adapter, scale: 0.5 }]); // passes
 * ```
 */
export function checkLoraAdapters(
  targets: readonly LoraTarget[],
  adapters: readonly ScaledLoraAdapter[],
): void {
  planMerge(indexTargets(targets), adapters);
}

/**
 * Returns a new external-data buffer: `base` with every adapter merged in at
 * its scale (see the module doc for the exact arithmetic). `base` is not
 * modified; with no adapters the result is a byte-identical copy.
 *
 * @example
 * ```ts
 * import type { LoraAdapter } from "./adapter.ts";
 * import { mergeLoraAdapters } from "./merge.ts";
 * // W^T = identity [2, 2]; A = [[1, 0]], B = [[0], [1]] adds 1 at W^T[0][1].
 * const base = new Uint8Array(Float32Array.of(1, 0, 0, 1).buffer);
 * const adapter: LoraAdapter = {
 *   metadata: {},
 *   modules: new Map([["proj", {
 *     module: "proj", rank: 1, inFeatures: 2, outFeatures: 2, alpha: 1,
 *     a: Float32Array.of(1, 0), b: Float32Array.of(0, 1),
 *   }]]),
 * };
 * const merged = mergeLoraAdapters(base, [
 *   { module: "proj", initializer: "proj.weight", shape: [2, 2], offset: 0, length: 16 },
 * ], [{ adapter, scale: 1 }]);
 * new Float32Array(merged.buffer); // [1, 1, 0, 1]
 * ```
 */
export function mergeLoraAdapters(
  base: Uint8Array,
  targets: readonly LoraTarget[],
  adapters: readonly ScaledLoraAdapter[],
): Uint8Array {
  const index = indexTargets(targets);
  const end = Math.max(0, ...targets.map((target) => target.offset + target.length));
  if (end > base.length) {
    throw new LoraError(
      "invalid_base",
      `the external data is ${base.length} bytes but the LoRA targets reach byte ${end}`,
    );
  }
  const plan = planMerge(index, adapters);
  const merged = base.slice();
  const view = new DataView(merged.buffer);
  for (const [target, contributions] of plan) {
    const delta = targetDelta(target, contributions);
    for (let element = 0; element < delta.length; element++) {
      if (delta[element] === 0) continue;
      const position = target.offset + 4 * element;
      view.setFloat32(position, view.getFloat32(position, true) + delta[element], true);
    }
  }
  return merged;
}

interface Contribution {
  readonly module: LoraModule;
  /** `(alpha / rank) · scale`. */
  readonly factor: number;
}

function indexTargets(targets: readonly LoraTarget[]): Map<string, LoraTarget> {
  const index = new Map<string, LoraTarget>();
  const problems: [module: string, problem: string][] = [];
  for (const target of targets) {
    const { module, shape, offset, length } = target;
    const key = normaliseModulePath(module);
    const [inFeatures, outFeatures] = shape;
    if (index.has(key)) {
      problems.push([module, "listed twice"]);
    } else if (
      shape.length !== 2 || !shape.every((size) => Number.isSafeInteger(size) && size > 0)
    ) {
      problems.push([module, "shape must be [in, out] with positive integers"]);
    } else if (!Number.isSafeInteger(offset) || offset < 0) {
      problems.push([module, "offset must be a non-negative integer"]);
    } else if (length !== inFeatures * outFeatures * 4) {
      problems.push([module, `length ${length} ≠ ${inFeatures} × ${outFeatures} × 4 bytes`]);
    }
    index.set(key, target);
  }
  const sorted = [...index.values()].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1];
    if (sorted[i].offset < previous.offset + previous.length) {
      problems.push([sorted[i].module, `its bytes overlap those of ${previous.module}`]);
    }
  }
  if (problems.length > 0) {
    const described = problems.map(([module, problem]) => `${module}: ${problem}`);
    throw new LoraError(
      "invalid_target",
      `invalid LoRA targets: ${described.join("; ")}`,
      problems.map(([module]) => module),
    );
  }
  return index;
}

function planMerge(
  index: ReadonlyMap<string, LoraTarget>,
  adapters: readonly ScaledLoraAdapter[],
): Map<LoraTarget, Contribution[]> {
  const plan = new Map<LoraTarget, Contribution[]>();
  const unknown: string[] = [];
  const mismatched = new Map<string, string>();
  adapters.forEach(({ adapter, scale }, position) => {
    if (typeof scale !== "number" || !Number.isFinite(scale)) {
      throw new LoraError(
        "invalid_scale",
        `adapter ${position} has scale ${scale}; need a finite number`,
      );
    }
    for (const module of adapter.modules.values()) {
      checkLoraModule(module);
      const { module: name, inFeatures, outFeatures, alpha, rank } = module;
      const target = index.get(normaliseModulePath(name));
      if (target === undefined) {
        unknown.push(name);
      } else if (target.shape[0] !== inFeatures || target.shape[1] !== outFeatures) {
        mismatched.set(
          name,
          `${name} (adapter [in ${inFeatures}, out ${outFeatures}], ` +
            `model ${target.initializer} [${target.shape.join(", ")}])`,
        );
      } else {
        const contributions = plan.get(target) ?? [];
        contributions.push({ module, factor: (alpha / rank) * scale });
        plan.set(target, contributions);
      }
    }
  });
  if (unknown.length > 0 || mismatched.size > 0) {
    const problems = [];
    if (unknown.length > 0) {
      problems.push(`modules the model has no LoRA target for: ${unique(unknown).join(", ")}`);
    }
    if (mismatched.size > 0) {
      const described = unique([...mismatched.values()]).join(", ");
      problems.push(`modules whose shape differs from the model's: ${described}`);
    }
    throw new LoraError(
      unknown.length > 0 ? "unknown_module" : "shape_mismatch",
      `adapter does not match the model: ${problems.join("; ")}`,
      unique([...unknown, ...mismatched.keys()]),
    );
  }
  return plan;
}

/** `Σ c · A^T B^T` for one target, in float64, laid out like `W^T` ([in, out]). */
function targetDelta(target: LoraTarget, contributions: readonly Contribution[]): Float64Array {
  const [inFeatures, outFeatures] = target.shape;
  const delta = new Float64Array(inFeatures * outFeatures);
  const product = new Float64Array(inFeatures * outFeatures);
  for (const { module: { rank, a, b }, factor } of contributions) {
    product.fill(0);
    const bTransposed = new Float64Array(rank * outFeatures);
    for (let j = 0; j < outFeatures; j++) {
      for (let k = 0; k < rank; k++) bTransposed[k * outFeatures + j] = b[j * rank + k];
    }
    for (let k = 0; k < rank; k++) {
      for (let i = 0; i < inFeatures; i++) {
        const aKI = a[k * inFeatures + i];
        const row = i * outFeatures, bRow = k * outFeatures;
        for (let j = 0; j < outFeatures; j++) product[row + j] += aKI * bTransposed[bRow + j];
      }
    }
    for (let element = 0; element < delta.length; element++) {
      delta[element] += factor * product[element];
    }
  }
  return delta;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}
