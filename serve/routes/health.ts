/**
 * `GET /healthz`: liveness and a glance at the load.
 *
 * @module
 */

import { Hono } from "hono";
import type { Limiter } from "../limiter.ts";

/** The health route: `{ status: "ok", model, in_flight, queued }`. */
export function healthRoute(modelId: string, limiter: Limiter): Hono {
  return new Hono().get("/healthz", (c) =>
    c.json({
      status: "ok",
      model: modelId,
      in_flight: limiter.active,
      queued: limiter.queued,
    }));
}
