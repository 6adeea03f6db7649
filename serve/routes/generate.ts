/**
 * `POST /v1/generate`: one image as the response body, `image/png` or
 * `image/webp` — from the `format` field, else from the `Accept` header
 * (PNG when the client accepts anything; 406 when it accepts neither).
 * The image's seed is in the `X-Seed` header.
 *
 * @module
 */

import { type Context, Hono } from "hono";
import { accepts } from "hono/accepts";
import type { ImageFormat } from "../../mod.ts";
import { ApiError } from "../errors.ts";
import type { GenerationService } from "../generation.ts";
import { jsonBody, limitBody } from "../middleware/body.ts";
import { parseGenerateRequest, type ValidationRules } from "../validate.ts";

const MEDIA_TYPES: Readonly<Record<ImageFormat, string>> = {
  png: "image/png",
  webp: "image/webp",
};

/** The single-image route over a service, checked against `rules`. */
export function generateRoute(
  service: GenerationService,
  rules: ValidationRules,
  maxBodyBytes: number,
): Hono {
  return new Hono().post(
    "/v1/generate",
    limitBody(maxBodyBytes),
    jsonBody((body) => parseGenerateRequest(body, rules)),
    async (c) => {
      const request = c.var.body;
      const format = request.format ?? negotiate(c);
      const [image] = await service.render(request, format);
      return c.body(image.bytes as Uint8Array<ArrayBuffer>, 200, {
        "Content-Type": MEDIA_TYPES[format],
        "Cache-Control": "no-store",
        "Vary": "Accept",
        "X-Seed": String(image.seed),
      });
    },
  );
}

/** The format the `Accept` header prefers; PNG for `*\/*`, `image/*` or no header. */
function negotiate(c: Context): ImageFormat {
  const chosen = accepts(c, {
    header: "Accept",
    supports: ["image/png", "image/webp"],
    default: "image/png",
    match: (ranges) => {
      const preferred = ranges.filter(({ q }) => q > 0).sort((a, b) => b.q - a.q);
      for (const { type } of preferred) {
        const range = type.toLowerCase();
        if (range === "image/webp") return "image/webp";
        if (["image/png", "image/*", "*/*", "*"].includes(range)) return "image/png";
      }
      return "";
    },
  });
  if (chosen === "") {
    throw new ApiError(
      406,
      "not_acceptable",
      `this endpoint returns image/png or image/webp; Accept: ${
        c.req.header("Accept")
      } allows neither`,
    );
  }
  return chosen === "image/webp" ? "webp" : "png";
}
