/**
 * `POST /v1/images/generations`: OpenAI's image-generation subset. Answers
 * `{ created, data: [{ b64_json, seed }] }` (plus the model, size and
 * output format); `response_format` can only be `b64_json`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Hono } from "hono";
import type { GenerationService } from "../generation.ts";
import { jsonBody, limitBody } from "../middleware/body.ts";
import { parseImagesRequest, type ValidationRules } from "../validate.ts";

/** The image-generation route over a service, checked against `rules`. */
export function imagesRoute(
  service: GenerationService,
  rules: ValidationRules,
  maxBodyBytes: number,
): Hono {
  return new Hono().post(
    "/v1/images/generations",
    limitBody(maxBodyBytes),
    jsonBody((body) => parseImagesRequest(body, rules)),
    async (c) => {
      const request = c.var.body;
      const images = await service.render(request, request.format);
      return c.json({
        created: Math.floor(Date.now() / 1000),
        model: rules.modelId,
        size: rules.size,
        output_format: request.format,
        data: images.map(({ seed, bytes }) => ({
          b64_json: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
            "base64",
          ),
          seed,
        })),
      });
    },
  );
}
