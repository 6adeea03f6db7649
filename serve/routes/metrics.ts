/**
 * `GET /metrics`: the Prometheus text exposition of the app's registry.
 *
 * @module
 */

import { Hono } from "hono";
import { PROMETHEUS_CONTENT_TYPE, type Registry } from "../metrics.ts";

/** The scrape route of `registry`. */
export function metricsRoute(registry: Registry): Hono {
  return new Hono().get(
    "/metrics",
    (c) => c.body(registry.render(), 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE }),
  );
}
