/**
 * The service's error shape: every failure is JSON `{ error: { code, message } }`
 * (plus `param` naming the offending request field, when there is one).
 *
 * @module
 */

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** The JSON body of every error response. */
export interface ErrorBody {
  /** What went wrong. */
  readonly error: {
    /** Stable, machine-readable reason, e.g. `invalid_field` or `queue_full`. */
    readonly code: string;
    /** One human-readable sentence. */
    readonly message: string;
    /** The request field at fault, when there is one. */
    readonly param?: string;
  };
}

/** Options of an {@linkcode ApiError}. */
export interface ApiErrorOptions {
  /** The request field at fault. */
  readonly param?: string;
  /** Extra response headers, e.g. `Retry-After`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The underlying error (kept for logs, never sent). */
  readonly cause?: unknown;
}

/**
 * A failure with an HTTP status and a stable code; thrown anywhere in a
 * request and rendered by the app's error handler.
 *
 * @example
 * ```ts
 * import { ApiError } from "./errors.ts";
 * throw new ApiError(400, "invalid_field", "steps must be an integer in 1..8", { param: "steps" });
 * ```
 */
export class ApiError extends Error {
  /** The HTTP status to answer with. */
  readonly status: ContentfulStatusCode;
  /** Stable, machine-readable reason. */
  readonly code: string;
  /** The request field at fault, if any. */
  readonly param: string | undefined;
  /** Extra response headers. */
  readonly headers: Readonly<Record<string, string>>;

  /** Creates the error; `message` is sent to the client, so it must not leak internals. */
  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.param = options.param;
    this.headers = options.headers ?? {};
  }
}

/** The {@linkcode ErrorBody} of a code and message (and optional field). */
export function errorBody(code: string, message: string, param?: string): ErrorBody {
  return { error: param === undefined ? { code, message } : { code, message, param } };
}

/** Renders an {@linkcode ApiError} as its JSON response. */
export function errorResponse(c: Context, error: ApiError): Response {
  return c.json(errorBody(error.code, error.message, error.param), error.status, error.headers);
}
