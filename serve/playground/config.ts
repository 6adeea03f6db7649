/**
 * What the playground page learns from `GET /playground/config.json`: the
 * served model, the request bounds, and where the in-browser runtime finds
 * the model and onnxruntime-web's files.
 *
 * @module
 */

import type { ModelInfo } from "../../mod.ts";
import type { ValidationRules } from "../validate.ts";

/** Where the route serves onnxruntime-web's `.wasm` and `.mjs` files. */
export const RUNTIME_FILES_PATH = "/playground/ort/";

/** Where the route serves the model's files for the browser runtime. */
export const MODEL_FILES_PATH = "/playground/model/";

/** The page's configuration (snake_case, like the service's other JSON). */
export interface PlaygroundConfig {
  /** The served model's id. */
  readonly model: string;
  /** `two-time` or `one-time`. */
  readonly kind: string;
  /** The one image size, `"<width>x<height>"`. */
  readonly size: string;
  /** The model's default step count. */
  readonly default_steps: number;
  /** Most steps a request may ask for. */
  readonly max_steps: number;
  /** Most images per request. */
  readonly max_images: number;
  /** Longest prompt in characters. */
  readonly max_prompt_chars: number;
  /** The `.onnx` file's path for the browser runtime; `null` when the service does not serve it. */
  readonly browser_model: string | null;
  /** Directory of onnxruntime-web's files. */
  readonly runtime_files: string;
}

/**
 * The configuration of a service serving `info` under `rules`.
 *
 * @example
 * ```ts ignore
 * import { playgroundConfig } from "./config.ts";
 * const config = playgroundConfig(model.info, rules, true);
 * ```
 */
export function playgroundConfig(
  info: ModelInfo,
  rules: ValidationRules,
  browserModel: boolean,
): PlaygroundConfig {
  return {
    model: rules.modelId,
    kind: info.kind,
    size: rules.size,
    default_steps: info.defaultSteps,
    max_steps: rules.limits.maxSteps,
    max_images: rules.limits.maxImages,
    max_prompt_chars: rules.limits.maxPromptChars,
    browser_model: browserModel ? `${MODEL_FILES_PATH}model.onnx` : null,
    runtime_files: RUNTIME_FILES_PATH,
  };
}
