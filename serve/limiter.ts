/**
 * A concurrency limit with a bounded FIFO queue: at most `concurrency` tasks
 * run at once, at most `queue` more wait, and the rest are refused at once
 * so overload turns into fast 429s instead of unbounded latency and memory.
 *
 * @module
 */

/** Limits of a {@linkcode Limiter}. */
export interface LimiterOptions {
  /** Tasks running at once (≥ 1). */
  readonly concurrency: number;
  /** Tasks waiting for a slot (≥ 0); more are refused with {@linkcode QueueFullError}. */
  readonly queue: number;
}

/** Thrown by {@linkcode Limiter.run} when every slot is busy and the queue is full. */
export class QueueFullError extends Error {
  /** Seconds after which a retry is likely to find room. */
  readonly retryAfterSeconds: number;

  /** Creates the error with the suggested retry delay. */
  constructor(retryAfterSeconds: number) {
    super(`the server is at capacity; retry after ${retryAfterSeconds} s`);
    this.name = "QueueFullError";
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

interface Waiter {
  readonly start: () => void;
  readonly abandon: (reason: unknown) => void;
}

/**
 * Runs async tasks under a concurrency limit with a bounded queue.
 *
 * @example
 * ```ts
 * import { Limiter } from "./limiter.ts";
 * const limiter = new Limiter({ concurrency: 2, queue: 8 });
 * const answer = await limiter.run(() => Promise.resolve(42));
 * ```
 */
export class Limiter {
  readonly #concurrency: number;
  readonly #capacity: number;
  readonly #waiting: Waiter[] = [];
  #active = 0;
  /** Exponentially weighted mean task duration in ms, for `Retry-After`. */
  #meanTaskMs = 0;

  /** Creates a limiter; throws a `RangeError` for limits that are not integers in range. */
  constructor({ concurrency, queue }: LimiterOptions) {
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
    }
    if (!Number.isSafeInteger(queue) || queue < 0) {
      throw new RangeError(`queue must be an integer ≥ 0, got ${queue}`);
    }
    this.#concurrency = concurrency;
    this.#capacity = queue;
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting for a slot now. */
  get queued(): number {
    return this.#waiting.length;
  }

  /**
   * Runs `task` when a slot is free. Throws {@linkcode QueueFullError} at once
   * when the queue is full; rejects with `signal.reason` if the signal aborts
   * while the task still waits (a running task is never interrupted).
   */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    if (this.#active >= this.#concurrency) await this.#wait(signal);
    else this.#active++;
    const started = performance.now();
    try {
      return await task();
    } finally {
      const ms = performance.now() - started;
      this.#meanTaskMs = this.#meanTaskMs === 0 ? ms : 0.8 * this.#meanTaskMs + 0.2 * ms;
      this.#release();
    }
  }

  /** Seconds until the queue has likely drained by one place: at least 1. */
  retryAfterSeconds(): number {
    const rounds = (this.#waiting.length + 1) / this.#concurrency;
    return Math.max(1, Math.ceil((rounds * this.#meanTaskMs) / 1000));
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    if (this.#waiting.length >= this.#capacity) {
      throw new QueueFullError(this.retryAfterSeconds());
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => waiter.abandon(signal?.reason);
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        abandon: (reason) => {
          const index = this.#waiting.indexOf(waiter);
          if (index >= 0) this.#waiting.splice(index, 1);
          reject(reason);
        },
      };
      this.#waiting.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Hands the slot to the next waiter, or frees it. */
  #release(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#active--;
    else next.start();
  }
}
