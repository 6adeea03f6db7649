/**
 * The model-file contract: what a flow-map ONNX model's metadata
 * must say, read into a typed, validated {@linkcode ModelInfo}.
 *
 * @module
 */

import { type TimeGrid, timeGrid, validateGrid } from "../grid.ts";
import type { LoraTarget } from "../lora/merge.ts";
import { type ProbabilityPath, rectifiedFlow, trigFlow } from "../path.ts";
import { Tokenizer } from "../text.ts";
import { ModelError } from "./model_error.ts";
import { readOnnxMetadata } from "./protobuf.ts";

/** Which flow map a model computes (docs/math.md §2). */
export type FlowMapKind = "two-time" | "one-time";

/** Graph input names (in order) and the output name of each map kind. */
export const MODEL_IO: Readonly<
  Record<FlowMapKind, { readonly inputs: readonly string[]; readonly output: string }>
> = Object.freeze({
  "two-time": Object.freeze({ inputs: Object.freeze(["x", "r", "t", "tokens"]), output: "u" }),
  "one-time": Object.freeze({ inputs: Object.freeze(["x", "t", "tokens"]), output: "x0" }),
});

/** Everything the SDK knows about a model, read from its metadata. */
export interface ModelInfo {
  /** `two-time` (MeanFlow, output `u`) or `one-time` (sCM, output `x0`). */
  readonly kind: FlowMapKind;
  /** The probability path, built from the `path` and `sigma_d` entries. */
  readonly path: ProbabilityPath;
  /** TrigFlow data scale (1 for rectified flow). */
  readonly sigmaD: number;
  /** One sample's shape `[channels, height, width]`. */
  readonly imageShape: readonly [number, number, number];
  /** Steps of the default grid. */
  readonly defaultSteps: number;
  /** The default sampling grid `t_0 > … > t_K = 0`. */
  readonly defaultGrid: TimeGrid;
  /**
   * Shift of the model's K-step rectified-flow grids (docs/math.md §3), from
   * the optional `shift` entry; 1 (uniform) when absent, as models written
   * before that entry were sampled.
   */
  readonly shift: number;
  /** The prompt tokenizer the model was trained with. */
  readonly tokenizer: Tokenizer;
  /** The linear layers adapters may target, and where their weights live. */
  readonly loraTargets: readonly LoraTarget[];
  /** File name of the external weights, next to the model file. */
  readonly externalData: string;
  /** All metadata entries, as stored. */
  readonly metadata: Readonly<Record<string, string>>;
}

const REQUIRED_KEYS = [
  "kind",
  "path",
  "sigma_d",
  "image_shape",
  "tokenizer",
  "default_steps",
  "default_grid",
  "lora_targets",
  "external_data",
] as const;

/** Shift of a model without a `shift` entry: the uniform grid it was sampled on before. */
const DEFAULT_MODEL_SHIFT = 1;

/**
 * Reads a model's {@linkcode ModelInfo} from its `.onnx` bytes alone, without
 * ONNX Runtime or its weights (pure JavaScript, any runtime).
 *
 * @example
 * ```ts ignore
 * import { readModelInfo } from "./model_info.ts";
 * const info = readModelInfo(await Deno.readFile("src/models/shapes-meanflow/model.onnx"));
 * console.log(info.kind, info.defaultGrid, info.loraTargets.length);
 * ```
 */
export function readModelInfo(model: Uint8Array): ModelInfo {
  return parseModelInfo(readOnnxMetadata(model));
}

/**
 * Validates a model's metadata entries and returns its {@linkcode ModelInfo};
 * throws a {@linkcode ModelError} naming every missing key, or the first bad
 * value.
 *
 * @example
 * ```ts
 * import { parseModelInfo } from "./model_info.ts";
 * const info = parseModelInfo({
 *   kind: "two-time",
 *   path: "rectified-flow",
 *   sigma_d: "1",
 *   image_shape: "[3, 32, 32]",
 *   tokenizer: JSON.stringify({ version: "v", maxTokens: 2, vocabulary: ["<pad>", "red"] }),
 *   default_steps: "2",
 *   default_grid: "[1, 0.5, 0]",
 *   lora_targets: "[]",
 *   external_data: "model.bin",
 * });
 * info.defaultGrid; // [1, 0.5, 0]
 * info.shift; // 1 (no `shift` entry)
 * ```
 */
export function parseModelInfo(metadata: Readonly<Record<string, string>>): ModelInfo {
  const missing = REQUIRED_KEYS.filter((key) => typeof metadata[key] !== "string");
  if (missing.length > 0) {
    throw new ModelError(
      `model metadata lacks ${missing.join(", ")}: not a flow-map model file ` +
        `(the model-file contract needs ${REQUIRED_KEYS.join(", ")})`,
    );
  }
  const kind = metadata.kind;
  if (kind !== "two-time" && kind !== "one-time") {
    throw new ModelError(
      `model metadata kind must be "two-time" or "one-time", got ${JSON.stringify(kind)}`,
    );
  }
  const sigmaD = Number(metadata.sigma_d);
  const path = pathOf(metadata.path, sigmaD);
  const imageShape = json(metadata, "image_shape");
  if (
    !Array.isArray(imageShape) || imageShape.length !== 3 ||
    !imageShape.every((d) => Number.isSafeInteger(d) && d > 0)
  ) {
    throw new ModelError(
      `model metadata image_shape must be [channels, height, width], got ${metadata.image_shape}`,
    );
  }
  const defaultGrid = guard(
    "default_grid",
    () => validateGrid(json(metadata, "default_grid") as number[], path),
  );
  const shift = metadata.shift === undefined ? DEFAULT_MODEL_SHIFT : Number(metadata.shift);
  guard("shift", () => timeGrid(path, { steps: 1, shift }));
  const defaultSteps = Number(metadata.default_steps);
  if (defaultSteps !== defaultGrid.length - 1) {
    throw new ModelError(
      `model metadata default_steps ${metadata.default_steps} disagrees with ` +
        `default_grid ${metadata.default_grid}`,
    );
  }
  const externalData = metadata.external_data;
  if (!/^[\w.-]+$/.test(externalData) || /^\.+$/.test(externalData)) {
    throw new ModelError(
      `model metadata external_data must be a plain file name, got ${JSON.stringify(externalData)}`,
    );
  }
  return Object.freeze({
    kind,
    path,
    sigmaD,
    imageShape: Object.freeze(imageShape as [number, number, number]),
    defaultSteps,
    defaultGrid,
    shift,
    tokenizer: guard("tokenizer", () => Tokenizer.fromMetadata(metadata.tokenizer)),
    loraTargets: loraTargetsOf(json(metadata, "lora_targets")),
    externalData,
    metadata: Object.freeze({ ...metadata }),
  });
}

function pathOf(name: string, sigmaD: number): ProbabilityPath {
  if (name === "rectified-flow") {
    if (sigmaD !== 1) throw new ModelError(`rectified flow needs sigma_d 1, got ${sigmaD}`);
    return rectifiedFlow;
  }
  if (name === "trigflow") return guard("sigma_d", () => trigFlow(sigmaD));
  throw new ModelError(
    `model metadata path must be "rectified-flow" or "trigflow", got ${JSON.stringify(name)}`,
  );
}

/**
 * One entry of a model file's `lora_targets` metadata (a JSON list), as the
 * emitter writes it; {@linkcode ModelInfo.loraTargets} holds them parsed.
 */
export interface StoredLoraTarget {
  /** Module path, e.g. `transformer_blocks.0.attn.to_q` (PEFT key prefix). */
  readonly module: string;
  /** Initializer name. It stores `Wᵀ`, shape `[inFeatures, outFeatures]`, row-major. */
  readonly initializer: string;
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** Byte offset in the external data file. */
  readonly offset: number;
  /** Byte length (`4 · in · out`). */
  readonly length: number;
}

function loraTargetsOf(value: unknown): readonly LoraTarget[] {
  if (!Array.isArray(value)) throw new ModelError("model metadata lora_targets must be a list");
  return Object.freeze(value.map((entry: Partial<StoredLoraTarget>, i) => {
    const { module, initializer, inFeatures, outFeatures, offset, length } = entry ?? {};
    const counts = [inFeatures, outFeatures, offset, length];
    if (
      typeof module !== "string" || typeof initializer !== "string" ||
      !counts.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)
    ) {
      throw new ModelError(
        `model metadata lora_targets[${i}] needs module, initializer, inFeatures, ` +
          `outFeatures, offset and length, got ${JSON.stringify(entry)}`,
      );
    }
    return Object.freeze({
      module,
      initializer,
      shape: Object.freeze([inFeatures, outFeatures]) as readonly [number, number],
      offset: offset as number,
      length: length as number,
    });
  }));
}

function json(metadata: Readonly<Record<string, string>>, key: string): unknown {
  try {
    return JSON.parse(metadata[key]);
  } catch {
    throw new ModelError(`model metadata ${key} is not JSON: ${metadata[key].slice(0, 80)}`);
  }
}

function guard<T>(key: string, read: () => T): T {
  try {
    return read();
  } catch (cause) {
    if (cause instanceof ModelError) throw cause;
    throw new ModelError(`model metadata ${key}: ${(cause as Error).message}`, { cause });
  }
}
