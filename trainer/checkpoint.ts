/**
 * Run checkpoints: one safetensors file holding the LoRA weights, their EMA,
 * the AdamW moments (float64) and, in its metadata, the iteration and
 * optimiser-step counters. Rollout noise and prompt draws are counter-based
 * (keyed by run seed and iteration), so the iteration is the whole RNG state.
 * Writes are atomic: a temporary file in the same directory, then a rename.
 *
 * @module
 */

import {
  encodeSafetensors,
  float32Tensor,
  parseSafetensors,
  type SafetensorsTensor,
  tensorToFloat32,
} from "../src/lora/safetensors.ts";

/** Everything needed to continue a run. */
export interface CheckpointState {
  /** Iterations completed. */
  readonly iteration: number;
  /** Run seed the rollouts were keyed by. */
  readonly seed: number;
  /** Variable names, in the order of the arrays below. */
  readonly names: readonly string[];
  /** Variable shapes. */
  readonly shapes: readonly (readonly number[])[];
  /** Current LoRA weights. */
  readonly weights: readonly Float32Array[];
  /** EMA of the LoRA weights. */
  readonly ema: readonly Float32Array[];
  /** AdamW steps taken. */
  readonly optimizerStep: number;
  /** AdamW first moments. */
  readonly m: readonly Float64Array[];
  /** AdamW second moments. */
  readonly v: readonly Float64Array[];
}

/** The file name of the checkpoint inside a run directory. */
export const CHECKPOINT_FILE = "checkpoint.safetensors";

/**
 * Encodes a checkpoint as safetensors bytes.
 *
 * @example
 * ```ts
 * import { decodeCheckpoint, encodeCheckpoint } from "./checkpoint.ts";
 * const one = [Float32Array.of(1)];
 * const bytes = encodeCheckpoint({
 *   iteration: 3, seed: 0, names: ["w"], shapes: [[1]], weights: one, ema: one,
 *   optimizerStep: 3, m: [Float64Array.of(0)], v: [Float64Array.of(0)],
 * });
 * decodeCheckpoint(bytes).iteration; // 3
 * ```
 */
export function encodeCheckpoint(state: CheckpointState): Uint8Array {
  const tensors: Record<string, SafetensorsTensor> = {};
  state.names.forEach((name, i) => {
    const shape = state.shapes[i];
    tensors[`weights/${name}`] = float32Tensor(state.weights[i], shape);
    tensors[`ema/${name}`] = float32Tensor(state.ema[i], shape);
    tensors[`adam_m/${name}`] = float64Tensor(state.m[i], shape);
    tensors[`adam_v/${name}`] = float64Tensor(state.v[i], shape);
  });
  const meta = {
    iteration: state.iteration,
    seed: state.seed,
    optimizerStep: state.optimizerStep,
    names: state.names,
  };
  return encodeSafetensors(tensors, { flow_map_grpo_state: JSON.stringify(meta) });
}

/** Decodes {@link encodeCheckpoint}'s bytes; throws if a tensor is missing. */
export function decodeCheckpoint(bytes: Uint8Array): CheckpointState {
  const file = parseSafetensors(bytes);
  const text = file.metadata.flow_map_grpo_state;
  if (text === undefined) throw new RangeError("not a trainer checkpoint (no state metadata)");
  const meta = JSON.parse(text) as {
    iteration: number;
    seed: number;
    optimizerStep: number;
    names: string[];
  };
  const get = (key: string) => {
    const tensor = file.tensors.get(key);
    if (tensor === undefined) throw new RangeError(`checkpoint has no tensor ${key}`);
    return tensor;
  };
  const names = meta.names;
  return {
    iteration: meta.iteration,
    seed: meta.seed,
    optimizerStep: meta.optimizerStep,
    names,
    shapes: names.map((n) => get(`weights/${n}`).shape),
    weights: names.map((n) => tensorToFloat32(get(`weights/${n}`))),
    ema: names.map((n) => tensorToFloat32(get(`ema/${n}`))),
    m: names.map((n) => float64Values(get(`adam_m/${n}`))),
    v: names.map((n) => float64Values(get(`adam_v/${n}`))),
  };
}

/**
 * Writes `bytes` to `path` atomically: a temporary sibling, then a rename, so
 * a crash leaves either the old file or the new one.
 *
 * @example
 * ```ts ignore
 * import { writeFileAtomic } from "./checkpoint.ts";
 * await writeFileAtomic("runs/demo/checkpoint.safetensors", new Uint8Array(8));
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const temporary = `${path}.tmp-${Deno.pid}`;
  if (typeof bytes === "string") await Deno.writeTextFile(temporary, bytes);
  else await Deno.writeFile(temporary, bytes);
  await Deno.rename(temporary, path);
}

/**
 * A safetensors F64 tensor of `values` (little-endian), for optimiser moments.
 *
 * @example
 * ```ts
 * import { float64Tensor, float64Values } from "./checkpoint.ts";
 * float64Values(float64Tensor(Float64Array.of(0.1), [1]))[0]; // 0.1 exactly
 * ```
 */
export function float64Tensor(values: Float64Array, shape: readonly number[]): SafetensorsTensor {
  const data = new Uint8Array(values.length * 8);
  const view = new DataView(data.buffer);
  values.forEach((v, i) => view.setFloat64(8 * i, v, true));
  return { dtype: "F64", shape: [...shape], data };
}

/** The values of an F64 tensor; throws for any other dtype. */
export function float64Values(tensor: SafetensorsTensor): Float64Array {
  if (tensor.dtype !== "F64") throw new RangeError(`expected F64 moments, got ${tensor.dtype}`);
  const view = new DataView(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  return Float64Array.from(
    { length: tensor.data.byteLength / 8 },
    (_, i) => view.getFloat64(8 * i, true),
  );
}
