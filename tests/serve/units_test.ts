/**
 * The service's building blocks on their own: the limiter's queue and
 * abort handling, the session cache's LRU, leases and disposal, and the
 * adapter store's atomic writes and name checks.
 */
import assert from "node:assert/strict";
import type { Model } from "../../mod.ts";
import { AdapterStore } from "../../serve/adapters.ts";
import { Limiter, QueueFullError } from "../../serve/limiter.ts";
import { SessionCache } from "../../serve/sessions.ts";
import { adapterBytes, loadTinyModel } from "./_fixtures.ts";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

Deno.test("limiter: runs at most `concurrency` tasks, queues FIFO, refuses beyond the queue", async () => {
  const limiter = new Limiter({ concurrency: 2, queue: 2 });
  const gates = Array.from({ length: 4 }, deferred);
  const order: number[] = [];
  const runs = gates.map((gate, i) =>
    limiter.run(async () => {
      order.push(i);
      await gate.promise;
      return i;
    })
  );
  await Promise.resolve();
  assert.deepEqual([limiter.active, limiter.queued], [2, 2]);
  await assert.rejects(limiter.run(() => Promise.resolve(9)), QueueFullError);
  gates[1].resolve();
  gates[0].resolve();
  await runs[0];
  gates[2].resolve();
  gates[3].resolve();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3]);
  assert.deepEqual(order, [0, 1, 2, 3]);
  assert.deepEqual([limiter.active, limiter.queued], [0, 0]);
});

Deno.test("limiter: an aborted waiter leaves the queue; a failed task frees its slot", async () => {
  const limiter = new Limiter({ concurrency: 1, queue: 1 });
  const gate = deferred();
  const first = limiter.run(() => gate.promise);
  const stop = new AbortController();
  const waiting = limiter.run(() => Promise.resolve("never"), stop.signal);
  stop.abort(new Error("gone"));
  await assert.rejects(waiting, /gone/);
  assert.equal(limiter.queued, 0);
  gate.resolve();
  await first;
  await assert.rejects(limiter.run(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(await limiter.run(() => Promise.resolve(7)), 7);
  assert.equal(limiter.active, 0);
  assert.throws(() => new Limiter({ concurrency: 0, queue: 1 }), RangeError);
});

function fakeModel(name: string, disposed: string[]): Model {
  return { dispose: () => Promise.resolve(void disposed.push(name)) } as unknown as Model;
}

Deno.test("session cache: LRU eviction disposes idle models, leased ones only when released", async () => {
  const disposed: string[] = [];
  const cache = new SessionCache(2);
  const build = (name: string) => () => Promise.resolve(fakeModel(name, disposed));
  const a = await cache.acquire("a", build("a"));
  (await cache.acquire("b", build("b"))).release();
  (await cache.acquire("a", build("a-again"))).release(); // hit: a is now most recent
  (await cache.acquire("c", build("c"))).release(); // evicts b (idle)
  await Promise.resolve();
  assert.deepEqual(disposed, ["b"]);
  (await cache.acquire("d", build("d"))).release(); // evicts a, still leased by `a`
  await Promise.resolve();
  assert.deepEqual(disposed, ["b"]);
  a.release();
  a.release();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(disposed, ["b", "a"]);
  assert.deepEqual(cache.stats, { hits: 1, misses: 4, evictions: 2, size: 2 });
  await cache.clear();
  assert.deepEqual(disposed.sort(), ["a", "b", "c", "d"]);
});

Deno.test("session cache: concurrent misses share one build; a failed build is not cached", async () => {
  const disposed: string[] = [];
  const cache = new SessionCache(2);
  let builds = 0;
  const build = () => {
    builds++;
    return Promise.resolve(fakeModel("x", disposed));
  };
  const leases = await Promise.all([cache.acquire("x", build), cache.acquire("x", build)]);
  assert.equal(builds, 1);
  leases.forEach((lease) => lease.release());
  await assert.rejects(cache.acquire("y", () => Promise.reject(new Error("bad merge"))), /bad/);
  assert.equal(cache.stats.size, 1);
  await cache.clear();
});

Deno.test("adapter store: atomic writes, leftover temporary files cleaned, names checked", async () => {
  await using model = await loadTinyModel();
  const dir = await Deno.makeTempDir({ prefix: "serve-store-" });
  try {
    await Deno.writeFile(`${dir}/.crisp.1234.tmp`, new Uint8Array(3));
    const store = await AdapterStore.open(dir, model.info.loraTargets);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "interrupted uploads are removed");
    const bytes = adapterBytes(model, 1);
    const { stored, created } = await store.put("crisp", bytes);
    assert.equal(created, true);
    assert.deepEqual(await Deno.readFile(`${dir}/crisp.safetensors`), bytes);
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["crisp.safetensors"]);
    assert.equal((await store.get("crisp") as typeof stored).sha256, stored.sha256);
    assert.equal((await store.put("crisp", adapterBytes(model, 2))).created, false);
    assert.notEqual((await store.get("crisp") as typeof stored).sha256, stored.sha256);
    await assert.rejects(store.get("../crisp"), RangeError);
    await assert.rejects(store.put("a/b", bytes), RangeError);
    assert.equal(await store.delete("crisp"), true);
    assert.equal(await store.delete("crisp"), false);
    assert.equal(await store.get("crisp"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
