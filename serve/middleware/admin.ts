/**
 * Admin authorisation for adapter writes: `Authorization: Bearer <token>`
 * checked in constant time by Hono's `bearerAuth`, with JSON error bodies.
 * Without a configured token, writes are disabled (403).
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { ApiError, errorBody } from "../errors.ts";

/** The environment variable holding the admin token. */
export const ADMIN_TOKEN_ENV = "FLOWMAP_ADMIN_TOKEN";

/**
 * Lets a request through only with the admin bearer token: 401 without or
 * with a wrong token, 400 for a malformed `Authorization` header, 403 when
 * no token is configured.
 */
export function adminOnly(token: string | undefined): MiddlewareHandler {
  if (token === undefined) {
    return () => {
      throw new ApiError(
        403,
        "writes_disabled",
        `adapter writes are disabled: start the server with ${ADMIN_TOKEN_ENV} set`,
      );
    };
  }
  return bearerAuth({
    token,
    noAuthenticationHeader: {
      message: errorBody("unauthorized", "adapter writes need Authorization: Bearer <token>"),
    },
    invalidAuthenticationHeader: {
      message: errorBody("invalid_authorization", "the Authorization header is not Bearer <token>"),
    },
    invalidToken: { message: errorBody("unauthorized", "the bearer token is wrong") },
  });
}
