/**
 * A Flow-Map GRPO run's state as a checkpoint (./checkpoint.ts): the LoRA
 * weights, their EMA, the AdamW moments and, in the metadata, the iteration
 * and optimiser-step counters. Rollout noise and prompt draws are
 * counter-based (keyed by run seed and iteration), so the iteration is the
 * whole RNG state.
 *
 * @module
 */

import { type Checkpoint, decodeCheckpoint, encodeCheckpoint } from "./checkpoint.ts";
import type { ParameterTable } from "./model/parameters.ts";

/** Everything needed to continue a run. */
export interface RunState {
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

/** The file name of the run state inside a run directory. */
export const CHECKPOINT_FILE = "checkpoint.safetensors";

/** The metadata entry that marks a run state and holds its counters. */
const STATE_KEY = "flow_map_grpo_state";

/**
 * Encodes a run state as checkpoint bytes (groups `weights`, `ema`, `adam_m`, `adam_v`).
 *
 * @example
 * ```ts
 * import { decodeRunState, encodeRunState } from "./run_state.ts";
 * const one = [Float32Array.of(1)];
 * const bytes = encodeRunState({
 *   iteration: 3, seed: 0, names: ["w"], shapes: [[1]], weights: one, ema: one,
 *   optimizerStep: 3, m: [Float64Array.of(0)], v: [Float64Array.of(0)],
 * });
 * decodeRunState(bytes).iteration; // 3
 * ```
 */
export function encodeRunState(state: RunState): Uint8Array {
  const table = <T>(values: readonly T[]) =>
    new Map(state.names.map((name, i) => [name, { shape: state.shapes[i], data: values[i] }]));
  const { iteration, seed, optimizerStep, names } = state;
  return encodeCheckpoint({
    tables: new Map<string, ParameterTable>([
      ["weights", table(state.weights)],
      ["ema", table(state.ema)],
    ]),
    float64Tables: new Map([["adam_m", table(state.m)], ["adam_v", table(state.v)]]),
    metadata: { [STATE_KEY]: JSON.stringify({ iteration, seed, optimizerStep, names }) },
  });
}

/**
 * Decodes bytes written by {@link encodeRunState}; a RangeError names what is missing.
 *
 * @example
 * ```ts
 * import { decodeRunState } from "./run_state.ts";
 * import { encodeCheckpoint } from "./checkpoint.ts";
 * const other = encodeCheckpoint({ tables: new Map(), metadata: {} });
 * try { decodeRunState(other); } catch (e) { (e as Error).message; } // "not a trainer checkpoint …"
 * ```
 */
export function decodeRunState(bytes: Uint8Array): RunState {
  const file: Checkpoint = decodeCheckpoint(bytes);
  const text = file.metadata[STATE_KEY];
  if (text === undefined) throw new RangeError("not a trainer checkpoint (no state metadata)");
  const { iteration, seed, optimizerStep, names } = JSON.parse(text) as {
    iteration: number;
    seed: number;
    optimizerStep: number;
    names: string[];
  };
  const get = <T>(tables: ReadonlyMap<string, ReadonlyMap<string, T>> | undefined, group: string) =>
    names.map((name) => {
      const entry = tables?.get(group)?.get(name);
      if (entry === undefined) throw new RangeError(`checkpoint has no tensor ${group}/${name}`);
      return entry;
    });
  const weights = get(file.tables, "weights");
  return {
    iteration,
    seed,
    optimizerStep,
    names,
    shapes: weights.map((w) => w.shape),
    weights: weights.map((w) => w.data),
    ema: get(file.tables, "ema").map((e) => e.data),
    m: get(file.float64Tables, "adam_m").map((e) => e.data),
    v: get(file.float64Tables, "adam_v").map((e) => e.data),
  };
}
