/**
 * Where a LoRA module's alpha comes from (see `adapter.ts`): a per-module
 * scalar tensor, the PEFT config JSON in the metadata, a plain metadata
 * number, or the rank.
 *
 * @module
 */

import { LoraError } from "./lora_error.ts";
import { type SafetensorsTensor, tensorToFloat32 } from "./safetensors.ts";

/** The metadata entry in which diffusers stores the PEFT `LoraConfig` as JSON. */
export const LORA_CONFIG_METADATA_KEY = "lora_adapter_metadata";

/** Metadata entries read as a plain alpha number, in order of precedence. */
export const METADATA_ALPHA_KEYS: readonly string[] = ["lora_alpha", "alpha"];

/** diffusers component prefixes that module paths and config keys may carry. */
export const COMPONENT_PREFIXES: readonly string[] = ["transformer.", "unet."];

/** The value of a `<module>.alpha` tensor, which must be a float scalar. */
export function alphaTensor(module: string, tensor: SafetensorsTensor): number {
  const isScalar = tensor.shape.length === 0 ||
    (tensor.shape.length === 1 && tensor.shape[0] === 1);
  const isFloat = tensor.dtype === "F32" || tensor.dtype === "F16" || tensor.dtype === "BF16";
  if (!isScalar || !isFloat) {
    throw new LoraError(
      "invalid_alpha",
      `${module}.alpha must be a float scalar, got ${tensor.dtype} [${tensor.shape.join(", ")}]`,
      [module],
    );
  }
  return tensorToFloat32(tensor)[0];
}

/** Alpha settings read from an adapter's metadata. */
export interface AlphaConfig {
  /** The adapter-wide alpha, if the metadata gives one. */
  readonly alpha?: number;
  /** PEFT `alpha_pattern` overrides: module-path matcher and its alpha. */
  readonly patterns: readonly [RegExp, number][];
}

/** Alpha settings from the metadata: the PEFT config JSON, then plain numbers. */
export function readAlphaConfig(metadata: Readonly<Record<string, string>>): AlphaConfig {
  const plainKey = METADATA_ALPHA_KEYS.find((key) => Object.hasOwn(metadata, key));
  const plainAlpha = plainKey === undefined ? undefined : parseAlpha(plainKey, metadata[plainKey]);
  const text = metadata[LORA_CONFIG_METADATA_KEY];
  if (text === undefined) return { alpha: plainAlpha, patterns: [] };
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(text);
  } catch {
    throw new LoraError("unsupported_config", `${LORA_CONFIG_METADATA_KEY} is not valid JSON`);
  }
  const setting = (name: string): unknown => {
    const key = [name, ...COMPONENT_PREFIXES.map((prefix) => prefix + name)]
      .find((candidate) => Object.hasOwn(config, candidate));
    return key === undefined ? undefined : config[key];
  };
  for (const flag of ["use_rslora", "use_dora"]) {
    if (setting(flag) === true) {
      throw new LoraError(
        "unsupported_config",
        `adapter config sets ${flag}, which this merge does not implement`,
      );
    }
  }
  const configAlpha = setting("lora_alpha");
  const alphaPattern = setting("alpha_pattern") ?? {};
  if (typeof alphaPattern !== "object" || alphaPattern === null) {
    throw new LoraError("unsupported_config", "adapter config alpha_pattern must be an object");
  }
  const patterns = Object.entries(alphaPattern).map(([pattern, value]): [RegExp, number] => [
    patternRegExp(pattern),
    parseAlpha(`alpha_pattern ${JSON.stringify(pattern)}`, value),
  ]);
  return {
    alpha: configAlpha === undefined ? plainAlpha : parseAlpha("lora_alpha", configAlpha),
    patterns,
  };
}

/** PEFT's rule: a pattern key matches the end of a module path at a dot. */
function patternRegExp(pattern: string): RegExp {
  try {
    return new RegExp(`^(?:.*\\.)?(?:${pattern})$`);
  } catch {
    throw new LoraError(
      "unsupported_config",
      `adapter config alpha_pattern key ${JSON.stringify(pattern)} is not a valid pattern`,
    );
  }
}

/** A module's alpha from the metadata: its pattern, else the adapter-wide alpha, else rank. */
export function alphaFromMetadata(module: string, rank: number, config: AlphaConfig): number {
  const pattern = config.patterns.find(([regex]) => regex.test(module));
  return pattern?.[1] ?? config.alpha ?? rank;
}

function parseAlpha(source: string, value: unknown): number {
  const alpha = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof alpha !== "number" || !Number.isFinite(alpha) || alpha <= 0) {
    throw new LoraError(
      "invalid_alpha",
      `alpha from ${source} must be a positive finite number, got ${JSON.stringify(value)}`,
    );
  }
  return alpha;
}
