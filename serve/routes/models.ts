/**
 * `GET /v1/models`: the served model in OpenAI's list shape, with what
 * clients need to build valid requests (size, step bounds, kind).
 *
 * @module
 */

import { Hono } from "hono";
import type { ModelInfo } from "../../mod.ts";
import type { ValidationRules } from "../validate.ts";

/** The model listing for a model's `info`, served under `rules`. */
export function modelsRoute(info: ModelInfo, rules: ValidationRules): Hono {
  const created = Math.floor(Date.now() / 1000);
  const model = {
    id: rules.modelId,
    object: "model",
    created,
    owned_by: "flowmap",
    kind: info.kind,
    path: info.path.name,
    sizes: [rules.size],
    default_steps: info.defaultSteps,
    max_steps: rules.limits.maxSteps,
    max_images: rules.limits.maxImages,
    lora_targets: info.loraTargets.length,
  };
  return new Hono().get("/v1/models", (c) => c.json({ object: "list", data: [model] }));
}
