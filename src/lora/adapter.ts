/**
 * LoRA adapters stored as safetensors (docs/math.md §7): for a linear layer
 * `y = x W^T` with `W: [out, in]`, an adapter holds `A: [rank, in]`,
 * `B: [out, rank]` and `alpha`, and the layer becomes
 * `W + (alpha / rank) · scale · B A`.
 *
 * Keys are read in the common spellings — `<module>.lora_A.weight` /
 * `.lora_B.weight` (PEFT, diffusers), `.lora.down.weight` / `.lora.up.weight`
 * (diffusers' older layers) and `.lora_down.weight` / `.lora_up.weight`
 * (kohya), with down = A and up = B — under an optional `base_model.model.`
 * (PEFT) and then `transformer.` or `unet.` (diffusers component) prefix.
 *
 * Alpha comes, per module, from the first of: a `<module>.alpha` scalar
 * tensor; the PEFT config JSON that diffusers stores in the
 * `lora_adapter_metadata` metadata entry (`alpha_pattern`, then
 * `lora_alpha`, optionally under a component prefix such as
 * `transformer.lora_alpha`); a `lora_alpha` or `alpha` metadata number;
 * otherwise alpha = rank.
 *
 * @module
 */

import {
  alphaFromMetadata,
  alphaTensor,
  COMPONENT_PREFIXES,
  LORA_CONFIG_METADATA_KEY,
  METADATA_ALPHA_KEYS,
  readAlphaConfig,
} from "./alpha.ts";
import { LoraError } from "./lora_error.ts";
import { checkLoraModule, type LoraModule } from "./lora_module.ts";
import {
  encodeSafetensors,
  float32Tensor,
  parseSafetensors,
  type SafetensorsFile,
  type SafetensorsTensor,
  tensorToFloat32,
} from "./safetensors.ts";

export { LORA_CONFIG_METADATA_KEY, LoraError };
export type { LoraErrorCode } from "./lora_error.ts";
export type { LoraModule };

/** A parsed adapter: its modules by normalised path, and the file's metadata. */
export interface LoraAdapter {
  /** Modules by normalised module path, sorted by path. */
  readonly modules: ReadonlyMap<string, LoraModule>;
  /** The safetensors `__metadata__` of the adapter file. */
  readonly metadata: Readonly<Record<string, string>>;
}

const WRAPPER_PREFIX = "base_model.model.";
const KEY_PATTERN =
  /^(.*)\.(?:(lora_A\.weight|lora\.down\.weight|lora_down\.weight)|(lora_B\.weight|lora\.up\.weight|lora_up\.weight)|(alpha))$/;

/**
 * A module path as adapters and models are matched: without PEFT's
 * `base_model.model.` wrapper and then a diffusers component prefix
 * (`transformer.` or `unet.`).
 *
 * @example
 * ```ts
 * import { normaliseModulePath } from "./adapter.ts";
 * normaliseModulePath("base_model.model.transformer.blocks.0.attn.to_q"); // "blocks.0.attn.to_q"
 * ```
 */
export function normaliseModulePath(path: string): string {
  const unwrapped = path.startsWith(WRAPPER_PREFIX) ? path.slice(WRAPPER_PREFIX.length) : path;
  const component = COMPONENT_PREFIXES.find((prefix) => unwrapped.startsWith(prefix));
  return component === undefined ? unwrapped : unwrapped.slice(component.length);
}

/**
 * Reads an adapter from safetensors bytes (or an already parsed file),
 * normalises its module paths, resolves alpha and checks every module:
 * both `A` and `B` present, 2-D float tensors with `A: [r, in]` and
 * `B: [out, r]`, finite values. Throws a {@linkcode LoraError} naming all
 * offending keys or modules, or a `SafetensorsError` for a malformed file.
 *
 * @example
 * ```ts
 * import { parseLoraAdapter } from "./adapter.ts";
 * import { encodeSafetensors, float32Tensor } from "./safetensors.ts";
 * const bytes = encodeSafetensors({
 *   "base_model.model.proj.lora_A.weight": float32Tensor([1, 2, 3], [1, 3]),
 *   "base_model.model.proj.lora_B.weight": float32Tensor([4, 5], [2, 1]),
 * }, { lora_alpha: "2" });
 * const proj = parseLoraAdapter(bytes).modules.get("proj")!;
 * [proj.rank, proj.inFeatures, proj.outFeatures, proj.alpha]; // [1, 3, 2, 2]
 * ```
 */
export function parseLoraAdapter(source: Uint8Array | SafetensorsFile): LoraAdapter {
  const file = source instanceof Uint8Array ? parseSafetensors(source) : source;
  const parts = groupByModule(file.tensors);
  const config = readAlphaConfig(file.metadata);
  const complete: [string, CompleteParts][] = [];
  const incomplete: [string, ModuleParts][] = [];
  for (const [module, part] of [...parts].sort(([x], [y]) => (x < y ? -1 : 1))) {
    if (isComplete(part)) complete.push([module, part]);
    else incomplete.push([module, part]);
  }
  if (incomplete.length > 0) {
    const described = incomplete.map(([module, { a }]) =>
      `${module} (no ${a === undefined ? "A/down" : "B/up"} weight)`
    );
    throw new LoraError(
      "incomplete_module",
      `adapter modules need both an A (down) and a B (up) weight: ${described.join(", ")}`,
      incomplete.map(([module]) => module),
    );
  }
  const modules = new Map<string, LoraModule>();
  for (const [module, { a, b, alpha }] of complete) {
    const aValues = decodeWeights(module, a);
    const bValues = decodeWeights(module, b);
    const rank = a.shape[0];
    if (b.shape[1] !== rank) {
      throw new LoraError(
        "invalid_shape",
        `${module}: A is [${a.shape.join(", ")}] and B is [${b.shape.join(", ")}]; ` +
          `A must be [r, in] and B [out, r] with the same rank r`,
        [module],
      );
    }
    modules.set(module, {
      module,
      rank,
      inFeatures: a.shape[1],
      outFeatures: b.shape[0],
      alpha: alpha === undefined
        ? alphaFromMetadata(module, rank, config)
        : alphaTensor(module, alpha),
      a: aValues,
      b: bValues,
    });
  }
  if (modules.size === 0) {
    throw new LoraError("empty_adapter", "adapter file holds no LoRA weights");
  }
  modules.forEach(checkLoraModule);
  return Object.freeze({ modules, metadata: file.metadata });
}

/**
 * Encodes modules as a PEFT-style adapter file in float32:
 * `base_model.model.<module>.lora_A.weight` and `.lora_B.weight`, with alpha
 * in the `lora_alpha` metadata entry when all modules share one, else as
 * `<module>.alpha` scalars. Parsing the result gives back the same modules.
 *
 * @example
 * ```ts
 * import { encodeLoraAdapter } from "./adapter.ts";
 * const bytes = encodeLoraAdapter([{
 *   module: "proj", rank: 1, inFeatures: 2, outFeatures: 2, alpha: 1,
 *   a: Float32Array.of(1, 0), b: Float32Array.of(0, 0),
 * }], { trainer: "flow-map-grpo" });
 * ```
 */
export function encodeLoraAdapter(
  modules: Iterable<LoraModule>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const reserved = [LORA_CONFIG_METADATA_KEY, ...METADATA_ALPHA_KEYS].filter((key) =>
    Object.hasOwn(metadata, key)
  );
  if (reserved.length > 0) {
    throw new LoraError(
      "reserved_metadata",
      `metadata keys ${reserved.join(", ")} are written by the encoder from the modules' alpha`,
      reserved,
    );
  }
  const list = [...modules];
  if (list.length === 0) {
    throw new LoraError("empty_adapter", "an adapter needs at least one module");
  }
  list.forEach(checkLoraModule);
  const names = list.map((module) => module.module);
  const repeated = names.filter((name, index) => names.indexOf(name) !== index);
  if (repeated.length > 0) {
    throw new LoraError(
      "duplicate_module",
      `modules appear twice: ${repeated.join(", ")}`,
      repeated,
    );
  }
  const alphas = new Set(list.map((module) => module.alpha));
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const { module, rank, inFeatures, outFeatures, alpha, a, b } of list) {
    const key = WRAPPER_PREFIX + module;
    tensors[`${key}.lora_A.weight`] = float32Tensor(a, [rank, inFeatures]);
    tensors[`${key}.lora_B.weight`] = float32Tensor(b, [outFeatures, rank]);
    if (alphas.size > 1) tensors[`${key}.alpha`] = float32Tensor([alpha], []);
  }
  const alphaMetadata: Record<string, string> = alphas.size === 1
    ? { lora_alpha: String([...alphas][0]) }
    : {};
  return encodeSafetensors(tensors, { ...metadata, ...alphaMetadata });
}

/** The tensors found for one module. */
interface ModuleParts {
  a?: SafetensorsTensor;
  b?: SafetensorsTensor;
  alpha?: SafetensorsTensor;
}

type CompleteParts = ModuleParts & { a: SafetensorsTensor; b: SafetensorsTensor };

function isComplete(parts: ModuleParts): parts is CompleteParts {
  return parts.a !== undefined && parts.b !== undefined;
}

function groupByModule(tensors: ReadonlyMap<string, SafetensorsTensor>): Map<string, ModuleParts> {
  const parts = new Map<string, ModuleParts>();
  const unrecognised: string[] = [];
  const duplicated: string[] = [];
  for (const [key, tensor] of tensors) {
    const match = KEY_PATTERN.exec(key);
    if (match === null || match[1] === "") {
      unrecognised.push(key);
      continue;
    }
    const module = normaliseModulePath(match[1]);
    const role = match[2] ? "a" : match[3] ? "b" : "alpha";
    const entry = parts.get(module) ?? {};
    if (entry[role] !== undefined) duplicated.push(module);
    entry[role] = tensor;
    parts.set(module, entry);
  }
  if (unrecognised.length > 0) {
    throw new LoraError(
      "unrecognised_key",
      `adapter keys are not LoRA weights (<module>.lora_A.weight / .lora_B.weight, ` +
        `.lora.down/up.weight, .lora_down/up.weight or <module>.alpha): ${unrecognised.join(", ")}`,
      unrecognised,
    );
  }
  if (duplicated.length > 0) {
    throw new LoraError(
      "duplicate_module",
      `adapter gives the same weight twice (under different spellings or prefixes) for: ` +
        duplicated.join(", "),
      duplicated,
    );
  }
  return parts;
}

function decodeWeights(module: string, tensor: SafetensorsTensor): Float32Array {
  if (tensor.dtype !== "F32" && tensor.dtype !== "F16" && tensor.dtype !== "BF16") {
    throw new LoraError(
      "invalid_dtype",
      `${module}: LoRA weights must be F32, F16 or BF16, got ${tensor.dtype}`,
      [module],
    );
  }
  if (tensor.shape.length !== 2 || tensor.shape.includes(0)) {
    throw new LoraError(
      "invalid_shape",
      `${module}: LoRA weights must be non-empty matrices, got shape [${tensor.shape.join(", ")}]`,
      [module],
    );
  }
  return tensorToFloat32(tensor);
}
