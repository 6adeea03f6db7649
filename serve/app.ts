/**
 * The service's app factory: a Hono app over a loaded model and an adapter
 * store, composed of small routes and middleware, testable in-process with
 * `app.request`.
 *
 * @example
 * ```ts ignore
 * import { loadModel } from "../mod.ts";
 * import { AdapterStore } from "./adapters.ts";
 * import { createApp } from "./app.ts";
 *
 * await using model = await loadModel();
 * const adapters = await AdapterStore.open("adapters", model.info.loraTargets);
 * await using service = createApp({ model, adapters, modelId: "shapes-meanflow" });
 * const response = await service.app.request("/v1/models");
 * ```
 *
 * @module
 */

import { Hono } from "hono";
import { requestId } from "hono/request-id";
import type { Model, ModelBytes } from "../mod.ts";
import type { AdapterStore } from "./adapters.ts";
import { GenerationService } from "./generation.ts";
import { Limiter } from "./limiter.ts";
import { CounterOf, Gauge, Registry } from "./metrics.ts";
import { handleErrors, type Logger, notFound, rejectOtherMethods } from "./middleware/errors.ts";
import { observeRequests } from "./middleware/observe.ts";
import { adaptersRoute } from "./routes/adapters.ts";
import { generateRoute } from "./routes/generate.ts";
import { healthRoute } from "./routes/health.ts";
import { imagesRoute } from "./routes/images.ts";
import { metricsRoute } from "./routes/metrics.ts";
import { modelsRoute } from "./routes/models.ts";
import { playgroundRoute } from "./routes/playground.ts";
import { type PlaygroundScript, playgroundScript } from "./playground/bundle.ts";
import { SessionCache } from "./sessions.ts";
import { DEFAULT_REQUEST_LIMITS, type RequestLimits, type ValidationRules } from "./validate.ts";

/** Request-field bounds plus the service's capacity limits. */
export interface ServeLimits extends RequestLimits {
  /** Generations running at once (default 2). */
  readonly concurrency: number;
  /** Generations waiting for a slot before 429 (default 32). */
  readonly queue: number;
  /** Deadline of a generation request, queueing included, in ms (default 30 000). */
  readonly timeoutMs: number;
  /** Largest JSON request body in bytes (default 64 KiB). */
  readonly maxBodyBytes: number;
  /** Largest adapter upload in bytes (default 64 MiB). */
  readonly maxAdapterBytes: number;
  /** Merged-adapter models kept (default 4). */
  readonly sessionCacheSize: number;
}

/** The default {@linkcode ServeLimits}. */
export const DEFAULT_SERVE_LIMITS: ServeLimits = Object.freeze({
  ...DEFAULT_REQUEST_LIMITS,
  concurrency: 2,
  queue: 32,
  timeoutMs: 30_000,
  maxBodyBytes: 64 * 1024,
  maxAdapterBytes: 64 * 1024 * 1024,
  sessionCacheSize: 4,
});

/** What {@linkcode createApp} serves. */
export interface AppOptions {
  /** The base model; the caller loads and disposes it. */
  readonly model: Model;
  /** Its public id in `/v1/models` and the `model` field (default `"flowmap"`). */
  readonly modelId?: string;
  /** The adapter store. */
  readonly adapters: AdapterStore;
  /** Bearer token for adapter writes; `undefined` disables writes (403). */
  readonly adminToken?: string;
  /** Overrides of {@linkcode DEFAULT_SERVE_LIMITS}. */
  readonly limits?: Partial<ServeLimits>;
  /** Where unexpected errors are logged (default `console.error`). */
  readonly log?: Logger;
  /** The playground page at `GET /` (default: served, without the browser runtime's model). */
  readonly playground?: PlaygroundOptions;
}

/** What the playground page serves. */
export interface PlaygroundOptions {
  /**
   * The base model's files, served to the page's browser runtime; `undefined`
   * (default) keeps them private and offers the server runtime only.
   */
  readonly browserModel?: ModelBytes;
  /** The page's script (default: the process's shared bundle, built on first request). */
  readonly script?: PlaygroundScript;
}

/** A created app and the resources it owns; dispose it to release merged models. */
export interface ServeApp extends AsyncDisposable {
  /** The Hono app: `app.fetch` for `Deno.serve`, `app.request` in tests. */
  readonly app: Hono;
  /** Disposes cached merged-adapter models (the base model stays the caller's). */
  close(): Promise<void>;
}

/**
 * Creates the generation service's Hono app.
 */
export function createApp(options: AppOptions): ServeApp {
  const limits = { ...DEFAULT_SERVE_LIMITS, ...options.limits };
  const { model, adapters } = options;
  const [, height, width] = model.info.imageShape;
  const rules: ValidationRules = {
    limits,
    modelId: options.modelId ?? "flowmap",
    size: `${width}x${height}`,
    tokenizer: model.info.tokenizer,
    randomSeed: () => crypto.getRandomValues(new Uint32Array(1))[0],
    flowMap: { kind: model.info.kind, defaultSteps: model.info.defaultSteps },
  };
  const limiter = new Limiter(limits);
  const sessions = new SessionCache(limits.sessionCacheSize);
  const service = new GenerationService({
    model,
    adapters,
    sessions,
    limiter,
    timeoutMs: limits.timeoutMs,
  });
  const registry = serviceMetrics(limiter, sessions, service);

  const app = new Hono();
  app.onError(handleErrors(options.log ?? console.error));
  app.notFound(notFound);
  app.use(requestId());
  app.use(observeRequests(registry));
  app.use(rejectOtherMethods(app));
  app.route("/", imagesRoute(service, rules, limits.maxBodyBytes));
  app.route("/", generateRoute(service, rules, limits.maxBodyBytes));
  app.route("/", modelsRoute(model.info, rules));
  app.route("/", adaptersRoute(adapters, options.adminToken, limits.maxAdapterBytes));
  app.route("/", healthRoute(rules.modelId, limiter));
  app.route("/", metricsRoute(registry));
  app.route(
    "/",
    playgroundRoute({
      info: model.info,
      rules,
      script: options.playground?.script ?? playgroundScript,
      browserModel: options.playground?.browserModel,
    }),
  );

  const close = () => sessions.clear();
  return { app, close, [Symbol.asyncDispose]: close };
}

function serviceMetrics(
  limiter: Limiter,
  sessions: SessionCache,
  service: GenerationService,
): Registry {
  const registry = new Registry();
  registry.add(
    new Gauge(
      "flowmap_queue_depth",
      "Generation requests waiting for a slot.",
      () => limiter.queued,
    ),
  );
  registry.add(
    new Gauge("flowmap_in_flight", "Generations running now.", () => limiter.active),
  );
  registry.add(
    new CounterOf(
      "flowmap_images_generated_total",
      "Images generated.",
      () => service.imagesGenerated,
    ),
  );
  registry.add(
    new CounterOf(
      "flowmap_steered_images_total",
      "Images generated with reward steering.",
      () => service.steeredImages,
    ),
  );
  registry.add(
    new CounterOf(
      "flowmap_steering_nfe_total",
      "Network evaluations spent on steered images.",
      () => service.steeringNfe,
    ),
  );
  registry.add(
    new CounterOf(
      "flowmap_steering_reward_calls_total",
      "Candidates scored by steering rewards.",
      () => service.rewardCalls,
    ),
  );
  registry.add(
    new CounterOf(
      "flowmap_session_cache_hits_total",
      "Adapter-set lookups served by a cached merged model.",
      () => sessions.stats.hits,
    ),
  );
  registry.add(
    new CounterOf(
      "flowmap_session_cache_misses_total",
      "Adapter-set lookups that merged adapters into a new session.",
      () => sessions.stats.misses,
    ),
  );
  registry.add(
    new CounterOf(
      "flowmap_session_cache_evictions_total",
      "Merged models evicted from the cache.",
      () => sessions.stats.evictions,
    ),
  );
  registry.add(
    new Gauge("flowmap_session_cache_size", "Merged models cached now.", () => sessions.stats.size),
  );
  registry.add(
    new Gauge(
      "process_resident_memory_bytes",
      "Resident memory of the server process.",
      () => Deno.memoryUsage().rss,
    ),
  );
  return registry;
}
