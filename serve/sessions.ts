/**
 * A bounded LRU cache of models with adapters merged in (each one its own
 * ONNX Runtime session and weight copy), keyed by the canonical adapter set.
 * Models in use are leased: an evicted model is disposed only once its last
 * lease is released, so eviction never pulls a session from under a request.
 *
 * @module
 */

import type { Model } from "../mod.ts";

/** A model borrowed from the cache; release it when the request is done. */
export interface Lease extends Disposable {
  /** The merged model. */
  readonly model: Model;
  /** Returns the model to the cache (idempotent). */
  release(): void;
}

interface Entry {
  readonly model: Promise<Model>;
  leases: number;
  evicted: boolean;
}

/** Counters of a {@linkcode SessionCache}. */
export interface SessionCacheStats {
  /** Lookups served by a cached (or in-progress) model. */
  readonly hits: number;
  /** Lookups that had to build a model. */
  readonly misses: number;
  /** Models pushed out to stay within capacity. */
  readonly evictions: number;
  /** Models cached now. */
  readonly size: number;
}

/**
 * An LRU cache of merged-adapter models.
 *
 * @example
 * ```ts ignore
 * import { SessionCache } from "./sessions.ts";
 * const cache = new SessionCache(4);
 * using lease = await cache.acquire(key, () => base.withAdapters(specs));
 * await generate(lease.model, { prompt: "a red circle" });
 * ```
 */
export class SessionCache {
  readonly #capacity: number;
  /** Entries in recency order: the first is the least recently used. */
  readonly #entries = new Map<string, Entry>();
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  /** Creates a cache holding at most `capacity` (≥ 1) models. */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`session cache capacity must be an integer ≥ 1, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** Hit, miss and eviction counts, and the current size. */
  get stats(): SessionCacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      size: this.#entries.size,
    };
  }

  /**
   * Leases the model cached under `key`, building it with `build` on a miss
   * (concurrent misses of one key share one build). A failed build is not
   * cached.
   */
  async acquire(key: string, build: () => Promise<Model>): Promise<Lease> {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#misses++;
      entry = { model: build(), leases: 0, evicted: false };
      this.#entries.set(key, entry);
      this.#evictOverflow();
    } else {
      this.#hits++;
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    entry.leases++;
    let model: Model;
    try {
      model = await entry.model;
    } catch (error) {
      entry.leases--;
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
      throw error;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      entry.leases--;
      this.#disposeIfIdle(entry);
    };
    return { model, release, [Symbol.dispose]: release };
  }

  /** Evicts every model; idle ones are disposed now, leased ones when released. */
  async clear(): Promise<void> {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    for (const entry of entries) entry.evicted = true;
    await Promise.all(entries.map((entry) => this.#disposeIfIdle(entry)));
  }

  #evictOverflow(): void {
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= this.#capacity) return;
      this.#entries.delete(key);
      this.#evictions++;
      entry.evicted = true;
      this.#disposeIfIdle(entry);
    }
  }

  async #disposeIfIdle(entry: Entry): Promise<void> {
    if (!entry.evicted || entry.leases > 0) return;
    try {
      await (await entry.model).dispose();
    } catch {
      // A model whose build failed has nothing to dispose.
    }
  }
}
