/**
 * Checkpoint files: named groups of parameter tables (float32 weights and
 * EMA; float64 optimiser moments, so a resumed run continues exactly) plus
 * string metadata, in one safetensors file whose tensors are named
 * `<group>/<name>`. Writes are atomic, so an interrupted run never leaves a
 * torn file. Pretraining stages and Flow-Map GRPO runs (./run_state.ts) both
 * store their state this way.
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
import type { ParameterTable } from "./model/parameters.ts";

/** Float64 arrays by name (optimiser moments). */
export type Float64Table = ReadonlyMap<
  string,
  { readonly shape: readonly number[]; readonly data: Float64Array }
>;

/** A checkpoint's contents: tables by group name and metadata strings. */
export interface Checkpoint {
  /** Float32 parameter tables by group, e.g. `weights`, `ema`. */
  readonly tables: ReadonlyMap<string, ParameterTable>;
  /** Float64 tables by group, e.g. `adam.m`, `adam.v`; groups differ from `tables`'. */
  readonly float64Tables?: ReadonlyMap<string, Float64Table>;
  /** Free-form metadata (step counts, config JSON, seeds). */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Encodes a checkpoint as safetensors; tensor names are `<group>/<name>`.
 *
 * @example
 * ```ts
 * import { decodeCheckpoint, encodeCheckpoint } from "./checkpoint.ts";
 * const w = new Map([["w", { shape: [1], data: Float32Array.of(2) }]]);
 * const bytes = encodeCheckpoint({ tables: new Map([["weights", w]]), metadata: { step: "1" } });
 * decodeCheckpoint(bytes).metadata.step; // "1"
 * ```
 */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  const tensors = new Map<string, SafetensorsTensor>();
  const add = (group: string, name: string, tensor: SafetensorsTensor) => {
    if (group.includes("/")) throw new RangeError(`group name ${group} must not contain "/"`);
    if (tensors.has(`${group}/${name}`)) throw new RangeError(`${group}/${name} appears twice`);
    tensors.set(`${group}/${name}`, tensor);
  };
  for (const [group, table] of checkpoint.tables) {
    for (const [name, value] of table) add(group, name, float32Tensor(value.data, value.shape));
  }
  for (const [group, table] of checkpoint.float64Tables ?? []) {
    for (const [name, value] of table) add(group, name, float64Tensor(value.data, value.shape));
  }
  return encodeSafetensors(tensors, checkpoint.metadata);
}

/**
 * Decodes bytes written by {@link encodeCheckpoint}.
 *
 * @example
 * ```ts
 * import { decodeCheckpoint, encodeCheckpoint } from "./checkpoint.ts";
 * decodeCheckpoint(encodeCheckpoint({ tables: new Map(), metadata: {} })).tables.size; // 0
 * ```
 */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  const file = parseSafetensors(bytes);
  const tables = new Map<string, Map<string, { shape: readonly number[]; data: Float32Array }>>();
  const float64Tables = new Map<
    string,
    Map<string, { shape: readonly number[]; data: Float64Array }>
  >();
  for (const [key, tensor] of file.tensors) {
    const cut = key.indexOf("/");
    if (cut < 0) throw new RangeError(`checkpoint tensor ${key} has no group`);
    const group = key.slice(0, cut), name = key.slice(cut + 1), shape = [...tensor.shape];
    if (tensor.dtype === "F64") {
      if (!float64Tables.has(group)) float64Tables.set(group, new Map());
      float64Tables.get(group)?.set(name, { shape, data: float64Values(tensor) });
    } else {
      if (!tables.has(group)) tables.set(group, new Map());
      tables.get(group)?.set(name, { shape, data: tensorToFloat32(tensor) });
    }
  }
  return { tables, float64Tables, metadata: file.metadata };
}

/**
 * Saves a checkpoint to `path` atomically.
 *
 * @example
 * ```ts ignore
 * import { saveCheckpoint } from "./checkpoint.ts";
 * await saveCheckpoint("runs/pretrain/teacher.safetensors", { tables: new Map(), metadata: {} });
 * ```
 */
export async function saveCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(checkpoint));
}

/**
 * Loads a checkpoint, or `undefined` when the file does not exist.
 *
 * @example
 * ```ts ignore
 * import { loadCheckpoint } from "./checkpoint.ts";
 * const ckpt = await loadCheckpoint("runs/pretrain/teacher.safetensors");
 * ```
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint | undefined> {
  try {
    return decodeCheckpoint(await Deno.readFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * The named table of a checkpoint; throws if it is missing.
 *
 * @example
 * ```ts
 * import { tableOf } from "./checkpoint.ts";
 * tableOf({ tables: new Map([["ema", new Map()]]), metadata: {} }, "ema").size; // 0
 * ```
 */
export function tableOf(checkpoint: Checkpoint, group: string): ParameterTable {
  const table = checkpoint.tables.get(group);
  if (table === undefined) throw new RangeError(`checkpoint has no table ${group}`);
  return table;
}

/**
 * The named float64 table of a checkpoint; throws if it is missing.
 *
 * @example
 * ```ts
 * import { float64TableOf } from "./checkpoint.ts";
 * const m = new Map([["w", { shape: [1], data: Float64Array.of(0.1) }]]);
 * float64TableOf({ tables: new Map(), float64Tables: new Map([["adam.m", m]]), metadata: {} }, "adam.m");
 * ```
 */
export function float64TableOf(checkpoint: Checkpoint, group: string): Float64Table {
  const table = checkpoint.float64Tables?.get(group);
  if (table === undefined) throw new RangeError(`checkpoint has no float64 table ${group}`);
  return table;
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

/** A safetensors F64 tensor of `values` (little-endian), for optimiser moments. */
function float64Tensor(values: Float64Array, shape: readonly number[]): SafetensorsTensor {
  const data = new Uint8Array(values.length * 8);
  const view = new DataView(data.buffer);
  values.forEach((v, i) => view.setFloat64(8 * i, v, true));
  return { dtype: "F64", shape: [...shape], data };
}

/** The values of an F64 tensor; throws for any other dtype. */
function float64Values(tensor: SafetensorsTensor): Float64Array {
  if (tensor.dtype !== "F64") throw new RangeError(`expected F64 moments, got ${tensor.dtype}`);
  const view = new DataView(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  return Float64Array.from(
    { length: tensor.data.byteLength / 8 },
    (_, i) => view.getFloat64(8 * i, true),
  );
}
