/**
 * A pool of output arrays for TF.js's CPU backend. A fresh large
 * `Float32Array` costs more than most kernels that fill it: the engine
 * zero-fills it and the first write to each page faults (about 0.5 ms per MB
 * measured here), and the garbage collector unmaps it again later. A
 * training step allocates the same shapes every pass, so kernels take their
 * outputs from {@link takeFloat32} and the pool gets an array back when the
 * last tensor using it is disposed. New arrays are made in the WebAssembly
 * kernels' shared memory (`wasm/memory.ts`), so those kernels read and write
 * tensors in place.
 *
 * Only arrays the pool handed out are recycled, and only when it is safe:
 * the pool counts the tensors on each of its arrays, never reuses an array
 * that a view was made on (a stock slice kernel may return one), and
 * `dataSync()`/`data()` of a pooled tensor return a copy, which the caller
 * may keep. Pooled arrays are kept for reuse, also across an uninstall and a
 * new installation; memory in the kernels' memory is never given back to the
 * system.
 *
 * @module
 */

import { findBackend } from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { kernelMemory, zeroFloats } from "./wasm/memory.ts";

/** What the pool knows of one array it handed out. */
interface Owned {
  /** The whole array, as handed out. */
  readonly array: Float32Array;
  /** Backend entries (tensor data) whose values lie in it. */
  live: number;
}

/**
 * Arrays handed out while installed: those in the kernels' memory by their
 * address, the others (each on its own buffer) by their buffer, which also
 * finds the array a view lies in.
 */
let ownedAddresses = new Map<number, Owned>();
let ownedBuffers = new WeakMap<ArrayBufferLike, Owned>();
/** Reusable arrays by length. */
const free = new Map<number, Float32Array[]>();
let pooledFloats = 0;
let installed: { backend: MathBackendCPU; restore(): void } | undefined;

/**
 * A float32 array of `length` values with arbitrary contents (a recycled
 * output, or a new one): the caller writes every value. Without an installed
 * pool it is a new zero-filled array.
 *
 * @example
 * ```ts
 * import { takeFloat32 } from "./tfjs-pool.ts";
 * const out = takeFloat32(4).fill(1); // fill or overwrite all of it
 * ```
 */
export function takeFloat32(length: number): Float32Array {
  if (!installed) return new Float32Array(length);
  let array = free.get(length)?.pop();
  if (array) pooledFloats -= length;
  else array = kernelMemory()?.floats(length) ?? new Float32Array(length);
  const entry = { array, live: 0 };
  const at = kernelMemory()?.addressOf(array);
  if (at === undefined) ownedBuffers.set(array.buffer, entry);
  else ownedAddresses.set(at, entry);
  return array;
}

/** The entry of a pooled array (itself, not a view into one). */
function entryOf(array: ArrayBufferView): Owned | undefined {
  const at = kernelMemory()?.addressOf(array);
  const entry = at === undefined ? ownedBuffers.get(array.buffer) : ownedAddresses.get(at);
  return entry?.array === array ? entry : undefined;
}

/**
 * {@link takeFloat32} filled with zeros.
 *
 * @example
 * ```ts
 * import { takeZeroedFloat32 } from "./tfjs-pool.ts";
 * takeZeroedFloat32(3); // [0, 0, 0]
 * ```
 */
export function takeZeroedFloat32(length: number): Float32Array {
  const array = takeFloat32(length);
  return installed ? zeroFloats(array) : array;
}

/**
 * Returns scratch space from {@link takeFloat32} that no tensor uses (after
 * the kernel is done with it) to the pool.
 *
 * @example
 * ```ts
 * import { releaseFloat32, takeFloat32 } from "./tfjs-pool.ts";
 * const scratch = takeFloat32(16);
 * releaseFloat32(scratch);
 * ```
 */
export function releaseFloat32(array: Float32Array): void {
  const entry = entryOf(array);
  if (entry?.live === 0) recycle(entry);
}

/** Stops tracking an array: it is not reused unless recycled now. */
function disown({ array }: Owned): void {
  const at = kernelMemory()?.addressOf(array);
  if (at === undefined) ownedBuffers.delete(array.buffer);
  else ownedAddresses.delete(at);
}

/** The pooled array that `view` (not itself one) lies in, if any. */
function ownerOf(view: ArrayBufferView): Owned | undefined {
  const at = kernelMemory()?.addressOf(view);
  if (at === undefined) return ownedBuffers.get(view.buffer);
  for (const [start, entry] of ownedAddresses) {
    if (start <= at && at < start + entry.array.byteLength) return entry;
  }
  return undefined;
}

function recycle(entry: Owned): void {
  disown(entry);
  const { length } = entry.array;
  const list = free.get(length);
  if (list) list.push(entry.array);
  else free.set(length, [entry.array]);
  pooledFloats += length;
}

/** The backend methods the pool wraps (TF.js 4.22's `MathBackendCPU`). */
const WRAPPED = ["write", "move", "disposeData", "readSync"] as const;

/**
 * Starts pooling on TF.js's CPU backend (idempotent): the backend's
 * `write`, `move`, `disposeData` and `readSync` are wrapped to count and
 * return the pool's arrays (and to copy them on reads). Returns a function
 * that unwraps them. Throws if the backend does not have the shape this
 * relies on.
 *
 * @example
 * ```ts ignore
 * import * as tf from "@tensorflow/tfjs-core";
 * import { installOutputPool } from "./tfjs-pool.ts";
 * await tf.setBackend("cpu");
 * const uninstall = installOutputPool();
 * uninstall();
 * ```
 */
export function installOutputPool(): () => void {
  const backend = findBackend("cpu") as MathBackendCPU | null;
  if (!backend) throw new Error("installOutputPool: TF.js has no CPU backend");
  if (installed?.backend === backend) return uninstallOutputPool;
  uninstallOutputPool();
  const missing = WRAPPED.filter((name) => typeof backend[name] !== "function");
  if (missing.length > 0 || typeof backend.data?.get !== "function") {
    throw new Error(
      `installOutputPool: the TF.js CPU backend changed shape (no ${
        missing.join(", ") || "data"
      });` +
        " kernels/tfjs-pool.ts is written against @tensorflow/tfjs-backend-cpu 4.22",
    );
  }
  const own = Object.fromEntries(WRAPPED.map((name) => [name, Object.hasOwn(backend, name)]));
  const original = {
    write: backend.write,
    move: backend.move,
    disposeData: backend.disposeData,
    readSync: backend.readSync,
  };
  const valuesOf = (dataId: object) => backend.data.get(dataId)?.values;
  /** Counts a backend entry on (`step` 1) or off (−1) a pooled array; a view pins its array. */
  const count = (values: unknown, step: number) => {
    if (!ArrayBuffer.isView(values)) return undefined;
    const entry = entryOf(values);
    if (entry) entry.live += step;
    else if (step > 0) {
      const array = ownerOf(values);
      if (array) disown(array); // rare (a stock kernel's slice): never reused
    }
    return entry;
  };
  backend.write = (values, shape, dtype) => {
    const dataId = original.write.call(backend, values, shape, dtype);
    count(values, 1);
    return dataId;
  };
  backend.move = (dataId, values, shape, dtype, refCount) => {
    count(valuesOf(dataId), -1);
    original.move.call(backend, dataId, values, shape, dtype, refCount);
    count(values, 1);
  };
  backend.disposeData = (dataId, force) => {
    const values = valuesOf(dataId);
    const released = original.disposeData.call(backend, dataId, force);
    if (released && !backend.data.has(dataId)) {
      const entry = count(values, -1);
      if (entry && entry.live === 0) recycle(entry);
    }
    return released;
  };
  backend.readSync = (dataId) => {
    const values = original.readSync.call(backend, dataId);
    // the caller may keep what it reads, and the pool will reuse the array
    return values instanceof Float32Array && entryOf(values) ? values.slice() : values;
  };
  installed = {
    backend,
    restore() {
      for (const name of WRAPPED) {
        if (own[name]) (backend as unknown as Record<string, unknown>)[name] = original[name];
        else delete (backend as unknown as Record<string, unknown>)[name];
      }
    },
  };
  return uninstallOutputPool;
}

/**
 * Stops pooling (a no-op when not installed): restores the backend's
 * methods. Arrays still used by tensors are no longer tracked (so never
 * reused); arrays in the pool stay there for a later installation.
 *
 * @example
 * ```ts
 * import { uninstallOutputPool } from "./tfjs-pool.ts";
 * uninstallOutputPool();
 * ```
 */
export function uninstallOutputPool(): void {
  installed?.restore();
  installed = undefined;
  ownedBuffers = new WeakMap();
  ownedAddresses = new Map();
}

/**
 * Floats waiting in the pool for reuse (for tests and diagnostics).
 *
 * @example
 * ```ts
 * import { pooledFloatCount } from "./tfjs-pool.ts";
 * pooledFloatCount(); // 0 before any tensor is disposed
 * ```
 */
export function pooledFloatCount(): number {
  return pooledFloats;
}
