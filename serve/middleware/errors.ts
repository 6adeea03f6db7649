/**
 * JSON errors everywhere: the app's `onError` and `notFound` handlers, and
 * 405 answers (with `Allow`) for known paths asked with another method.
 * Unexpected errors are logged with the request id and answered with a
 * generic 500 that never carries a stack trace or an internal message.
 *
 * @module
 */

import type { Context, ErrorHandler, Hono, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ApiError, errorBody, errorResponse } from "../errors.ts";

/** Where the app writes log lines (default: `console.error`). */
export type Logger = (line: string) => void;

/**
 * The app's error handler: `ApiError`s as their JSON, Hono's `HTTPException`s
 * with their own response when they carry one (e.g. bearer auth), any other
 * error as a logged, opaque 500.
 */
export function handleErrors(log: Logger): ErrorHandler {
  return (error: Error, c: Context) => {
    if (error instanceof ApiError) return errorResponse(c, error);
    if (error instanceof HTTPException) {
      if (error.res !== undefined) return error.getResponse();
      const status = error.status as ContentfulStatusCode;
      return c.json(errorBody(`http_${status}`, error.message || "request refused"), status);
    }
    const id = requestIdOf(c);
    log(`request ${id} ${c.req.method} ${c.req.path} failed: ${error?.stack ?? error}`);
    return c.json(
      errorBody("internal_error", `the server failed to handle this request (request id ${id})`),
      500,
    );
  };
}

/** The app's 404 handler. */
export function notFound(c: Context): Response {
  return c.json(errorBody("not_found", `no route ${c.req.method} ${c.req.path}`), 404);
}

/** 405 with `Allow` for a path that exists under other methods (Hono's `methodNotAllowed`). */
export function rejectOtherMethods(app: Hono): MiddlewareHandler {
  return methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      c.json(
        errorBody(
          "method_not_allowed",
          `${c.req.method} is not allowed on ${c.req.path}; use ${methods.join(", ")}`,
        ),
        405,
        { Allow: methods.join(", ") },
      ),
  });
}

function requestIdOf(c: Context): string {
  return (c.get("requestId" as never) as string | undefined) ?? "unknown";
}
