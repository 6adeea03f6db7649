/**
 * Checkpoints and stage outputs as safetensors files: several named
 * parameter tables (weights, EMA, optimiser moments) plus string metadata,
 * written atomically (temporary file, then rename) so an interrupted run
 * never leaves a torn file.
 *
 * @module
 */

import {
  encodeSafetensors,
  float32Tensor,
  parseSafetensors,
  type SafetensorsTensor,
  tensorToFloat32,
} from "../../src/lora/safetensors.ts";
import type { ParameterTable } from "../model/parameters.ts";

/** A checkpoint's contents: tables by group name and metadata strings. */
export interface Checkpoint {
  /** Parameter tables by group, e.g. `weights`, `ema`, `adam.m`. */
  readonly tables: ReadonlyMap<string, ParameterTable>;
  /** Free-form metadata (step counts, config JSON, seeds). */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Writes bytes to `path` atomically: a sibling temporary file, then rename.
 *
 * @example
 * ```ts ignore
 * import { writeAtomic } from "./checkpoint.ts";
 * await writeAtomic("runs/x.json", new TextEncoder().encode("{}"));
 * ```
 */
export async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeFile(tmp, bytes);
  await Deno.rename(tmp, path);
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
  for (const [group, table] of checkpoint.tables) {
    if (group.includes("/")) throw new RangeError(`group name ${group} must not contain "/"`);
    for (const [name, value] of table) {
      tensors.set(`${group}/${name}`, float32Tensor(value.data, value.shape));
    }
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
  for (const [key, tensor] of file.tensors) {
    const cut = key.indexOf("/");
    if (cut < 0) throw new RangeError(`checkpoint tensor ${key} has no group`);
    const group = key.slice(0, cut);
    if (!tables.has(group)) tables.set(group, new Map());
    tables.get(group)?.set(key.slice(cut + 1), {
      shape: [...tensor.shape],
      data: tensorToFloat32(tensor),
    });
  }
  return { tables, metadata: file.metadata };
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
  await writeAtomic(path, encodeCheckpoint(checkpoint));
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
