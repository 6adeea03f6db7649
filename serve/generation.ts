/**
 * The generation service behind both image routes: resolves the request's
 * adapters in the store, leases the merged model from the session cache,
 * and runs `generate` plus encoding under the concurrency limit and the
 * per-request deadline. Overload and deadlines become `ApiError`s: 429
 * (queue full), 503 (deadline passed while queued), 504 (passed while
 * generating; the work finishes in the background and keeps its slot).
 *
 * @module
 */

import {
  encodeImage,
  generate,
  generateSteered,
  type ImageFormat,
  type Model,
  namedReward,
  RewardError,
} from "../mod.ts";
import { type AdapterStore, isStoredAdapter, type StoredAdapter } from "./adapters.ts";
import { ApiError } from "./errors.ts";
import { type Limiter, QueueFullError } from "./limiter.ts";
import type { Lease, SessionCache } from "./sessions.ts";
import type { GenerationRequest } from "./validate.ts";

/** One generated, encoded image. */
export interface RenderedImage {
  /** Its seed (`request.seed + index`). */
  readonly seed: number;
  /** Its PNG or WebP bytes. */
  readonly bytes: Uint8Array;
}

/** What a {@linkcode GenerationService} works with. */
export interface GenerationServiceOptions {
  /** The base model (owned by the caller). */
  readonly model: Model;
  /** Where adapters are looked up. */
  readonly adapters: AdapterStore;
  /** Merged-adapter models. */
  readonly sessions: SessionCache;
  /** The concurrency limit and queue. */
  readonly limiter: Limiter;
  /** Deadline of a request from arrival to encoded images, in ms. */
  readonly timeoutMs: number;
}

/**
 * Generates and encodes images for validated requests.
 *
 * @example
 * ```ts ignore
 * const service = new GenerationService({ model, adapters, sessions, limiter, timeoutMs: 30_000 });
 * const [image] = await service.render({ prompt: "a red circle", n: 1, seed: 7, adapters: [] }, "png");
 * ```
 */
export class GenerationService {
  readonly #options: GenerationServiceOptions;
  #images = 0;
  #steered = 0;
  #steeringNfe = 0;
  #rewardCalls = 0;

  /** Creates the service over a model, store, cache and limiter. */
  constructor(options: GenerationServiceOptions) {
    this.#options = options;
  }

  /** Images generated so far. */
  get imagesGenerated(): number {
    return this.#images;
  }

  /** Images generated with reward steering so far. */
  get steeredImages(): number {
    return this.#steered;
  }

  /** Network evaluations spent on steered images so far. */
  get steeringNfe(): number {
    return this.#steeringNfe;
  }

  /** Candidates scored by steering rewards so far. */
  get rewardCalls(): number {
    return this.#rewardCalls;
  }

  /** Generates `request.n` images encoded as `format`, within the request deadline. */
  async render(request: GenerationRequest, format: ImageFormat): Promise<RenderedImage[]> {
    const { limiter, timeoutMs } = this.#options;
    const stored = await Promise.all(request.adapters.map(({ name }) => this.#adapter(name)));
    const expiry = new AbortController();
    const deadline = expiry.signal;
    const timer = setTimeout(
      () => expiry.abort(new DOMException("deadline", "TimeoutError")),
      timeoutMs,
    );
    let started = false;
    const work = limiter.run(async () => {
      started = true;
      using lease = await this.#lease(request, stored);
      const options = {
        prompt: request.prompt,
        n: request.n,
        steps: request.steps,
        seed: request.seed,
      };
      const { steering } = request;
      let images;
      if (steering) {
        const result = await generateSteered(lease.model, {
          ...options,
          steering: { ...steering, reward: namedReward(steering.reward) },
        });
        images = result.images;
        this.#steered += images.length;
        this.#steeringNfe += result.nfe * images.length;
        this.#rewardCalls += result.rewardCalls * images.length;
      } else {
        images = await generate(lease.model, options);
      }
      this.#images += images.length;
      return await Promise.all(images.map(async (image, i) => ({
        seed: request.seed + i,
        bytes: await encodeImage(image, format),
      })));
    }, deadline);
    try {
      return await untilAborted(work, deadline);
    } catch (error) {
      if (error instanceof RewardError) {
        // a named server-side reward refused the request (e.g. a prompt outside its grammar)
        throw new ApiError(400, "reward_failed", error.message, { param: "steering.reward" });
      }
      if (error instanceof QueueFullError) {
        throw new ApiError(429, "queue_full", error.message, {
          headers: { "Retry-After": String(error.retryAfterSeconds) },
        });
      }
      if (!deadline.aborted) throw error;
      if (started) {
        throw new ApiError(
          504,
          "generation_timeout",
          `generation took longer than ${timeoutMs} ms`,
        );
      }
      throw new ApiError(503, "queue_timeout", `no slot freed up within ${timeoutMs} ms`, {
        headers: { "Retry-After": String(limiter.retryAfterSeconds()) },
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async #adapter(name: string): Promise<StoredAdapter> {
    const found = await this.#options.adapters.get(name);
    if (found === undefined) {
      throw new ApiError(404, "adapter_not_found", `no adapter named ${JSON.stringify(name)}`, {
        param: "adapter",
      });
    }
    if (!isStoredAdapter(found)) {
      throw new ApiError(
        422,
        "adapter_unusable",
        `adapter ${JSON.stringify(name)} is stored but unusable: ${found.error}`,
        { param: "adapter" },
      );
    }
    return found;
  }

  async #lease(request: GenerationRequest, stored: readonly StoredAdapter[]): Promise<Lease> {
    const { model, sessions } = this.#options;
    if (stored.length === 0) {
      return { model, release() {}, [Symbol.dispose]() {} };
    }
    const key = JSON.stringify(
      stored.map(({ name, sha256 }, i) => [name, sha256, request.adapters[i].scale]),
    );
    return await sessions.acquire(key, () =>
      model.withAdapters(
        stored.map(({ adapter }, i) => ({ source: adapter, scale: request.adapters[i].scale })),
      ));
  }
}

/** `work`'s result, or a rejection with `signal.reason` as soon as `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => {}); // An abandoned task's failure is not unhandled.
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
