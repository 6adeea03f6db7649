/**
 * Request-body middleware: a size cap that answers 413 in the service's JSON
 * shape (Hono's `bodyLimit`: checks `Content-Length` up front, counts
 * streamed bodies), a required media type (415), and JSON bodies parsed and
 * validated into a typed `c.var.body`.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { ApiError } from "../errors.ts";

/** Refuses bodies over `maxBytes` with 413 `payload_too_large`. */
export function limitBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError(
        413,
        "payload_too_large",
        `the request body exceeds the limit of ${maxBytes} bytes`,
      );
    },
  });
}

/** Refuses requests whose `Content-Type` is not `mediaType` with 415 `unsupported_media_type`. */
export function requireMediaType(mediaType: string): MiddlewareHandler {
  return async (c, next) => {
    const given = c.req.header("Content-Type")?.split(";")[0].trim().toLowerCase();
    if (given !== mediaType) {
      throw new ApiError(
        415,
        "unsupported_media_type",
        `Content-Type must be ${mediaType}, got ${given === undefined ? "none" : given}`,
      );
    }
    await next();
  };
}

/**
 * Parses a JSON body (415 unless `application/json`, 400 `invalid_json`) and
 * hands it to `parse`, whose result handlers read as `c.var.body`.
 */
export function jsonBody<T>(
  parse: (body: unknown) => T,
): MiddlewareHandler<{ Variables: { body: T } }> {
  const mediaType = requireMediaType("application/json");
  return createMiddleware<{ Variables: { body: T } }>(async (c, next) => {
    await mediaType(c, async () => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw new ApiError(400, "invalid_json", "the request body is not valid JSON");
      }
      c.set("body", parse(body));
      await next();
    });
  });
}
