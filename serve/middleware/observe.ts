/**
 * Request metrics: a count per route, method and status, and a latency
 * histogram per route. Routes are the matched pattern (e.g.
 * `/v1/adapters/:name`), or `unmatched`, so labels stay bounded whatever
 * paths clients send.
 *
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { Counter, Histogram, type Registry } from "../metrics.ts";

/** Latency buckets in seconds: 1 ms to 30 s. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Registers the request metrics in `registry` and returns the middleware that records them. */
export function observeRequests(registry: Registry): MiddlewareHandler {
  const requests = registry.add(
    new Counter("flowmap_http_requests_total", "HTTP requests by route, method and status."),
  );
  const latency = registry.add(
    new Histogram(
      "flowmap_http_request_duration_seconds",
      "HTTP request latency by route, from arrival to response headers.",
      LATENCY_BUCKETS,
    ),
  );
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const route = routeOf(c);
      requests.inc({ route, method: c.req.method, status: String(c.res.status) });
      latency.observe({ route }, (performance.now() - started) / 1000);
    }
  };
}

function routeOf(c: Context): string {
  const handlers = matchedRoutes(c).filter(({ method }) => method !== "ALL");
  return handlers.at(-1)?.path ?? "unmatched";
}
