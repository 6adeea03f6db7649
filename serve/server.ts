/**
 * Running an app on `Deno.serve` with graceful shutdown: when `signal`
 * aborts, the server stops accepting connections, lets in-flight requests
 * finish (each is bounded by the request deadline), then releases the app's
 * merged models.
 *
 * @module
 */

import type { ServeApp } from "./app.ts";

/** Where and how long to serve. */
export interface ServeOptions {
  /** Interface to bind (e.g. `127.0.0.1`). */
  readonly hostname: string;
  /** Port; 0 picks a free one. */
  readonly port: number;
  /** Aborting it starts the graceful shutdown. */
  readonly signal: AbortSignal;
}

/** A listening server. */
export interface RunningServer {
  /** Its base URL, e.g. `http://127.0.0.1:8000`. */
  readonly url: URL;
  /** Settles once the server is closed, in-flight requests drained and the app closed. */
  readonly finished: Promise<void>;
}

/**
 * Serves `service.app` until `options.signal` aborts.
 *
 * @example
 * ```ts ignore
 * const stop = new AbortController();
 * const server = serveApp(service, { hostname: "127.0.0.1", port: 0, signal: stop.signal });
 * // … later: stop.abort(); await server.finished;
 * ```
 */
export function serveApp(service: ServeApp, options: ServeOptions): RunningServer {
  const server = Deno.serve(
    { hostname: options.hostname, port: options.port, onListen() {} },
    service.app.fetch,
  );
  // Not Deno.serve's own `signal` option: that drops in-flight requests,
  // while `shutdown()` lets them finish.
  const shutdown = () => void server.shutdown();
  if (options.signal.aborted) shutdown();
  else options.signal.addEventListener("abort", shutdown, { once: true });
  const { hostname, port } = server.addr;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: new URL(`http://${host}:${port}`),
    finished: server.finished.then(() => service.close()),
  };
}
