/**
 * The memory the trainer's WebAssembly kernels work in, one for all of them
 * (`activation`, `norm`, `elementwise`, `copy`). It is a shared `WebAssembly.Memory`,
 * so growing it never detaches arrays already made on it: the output pool
 * (`kernels/tfjs-pool.ts`) allocates tensors' arrays here, and a kernel
 * whose operands already lie in the memory runs on them in place instead of
 * copying them in and its results out. Operands from elsewhere go through a
 * scratch region.
 *
 * @module
 */

import { instantiateEmbedded } from "../../src/wasm/instantiate.ts";
import { COPY_WASM } from "./copy_wasm.ts";

const PAGE = 65536;
/** The wasm32 limit (4 GiB); a shared memory must declare its maximum. */
const MAX_PAGES = 65536;
/** Bytes kept free past the last array: vector loads may read 16 bytes past an operand's end. */
const SLACK = 16;

/** The shared memory and its allocator. */
export interface KernelMemory {
  /** The memory every kernel module imports as `kernels.memory`. */
  readonly memory: WebAssembly.Memory;
  /**
   * A new array of `length` floats in the memory, 16-byte aligned and padded
   * to a multiple of four floats (kernels write whole vectors), or
   * `undefined` when the memory is full (4 GiB). Never freed: the caller
   * recycles it.
   */
  floats(length: number): Float32Array | undefined;
  /** The byte address of `array` in the memory, or `undefined` if it lies elsewhere. */
  addressOf(array: ArrayBufferView): number | undefined;
  /**
   * A copier from `src` to `dst`: `(dstAt, srcAt, length)` copies `length`
   * floats of `src` from `srcAt` into `dst` at `dstAt`, a native memmove
   * when both lie in the memory (`TypedArray.set` copies shared buffers
   * value by value), else `set`. Made once for many runs between two arrays.
   */
  copier(dst: Float32Array, src: Float32Array): FloatCopier;
  /** Fills `array` with zeros (natively when it lies in the memory). */
  zero(array: Float32Array): void;
  /**
   * Runs `kernel` on the byte addresses of `inputs` then `outputs`: operands
   * outside the memory are copied into a scratch region first, and outputs
   * placed there are copied back after. Outputs start zeroed when `zeroed`;
   * an output that is also an input is updated in place.
   */
  run(
    inputs: readonly Float32Array[],
    outputs: readonly Float32Array[],
    kernel: (addresses: number[]) => void,
    zeroed?: boolean,
  ): void;
}

let shared: KernelMemory | undefined | null;

/**
 * The kernels' memory, created on first use, or `undefined` where the
 * runtime has no shared WebAssembly memory (the kernels fall back to
 * JavaScript then).
 *
 * @example
 * ```ts
 * import { kernelMemory } from "./memory.ts";
 * const kernels = kernelMemory();
 * kernels?.addressOf(kernels.floats(4)!); // a byte address, e.g. 0
 * ```
 */
export function kernelMemory(): KernelMemory | undefined {
  if (shared === undefined) {
    let memory: WebAssembly.Memory | undefined;
    try {
      memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    } catch {
      memory = undefined; // no WebAssembly, or no shared memory
    }
    shared = memory ? createKernelMemory(memory) : null;
  }
  return shared ?? undefined;
}

/** Copies `length` floats from `srcAt` of one array to `dstAt` of another (see {@link floatCopier}). */
export type FloatCopier = (dstAt: number, srcAt: number, length: number) => void;

/**
 * A copier from `src` to `dst`, native when both lie in the kernels' memory
 * ({@link KernelMemory.copier}).
 *
 * @example
 * ```ts
 * import { floatCopier } from "./memory.ts";
 * const dst = new Float32Array(2);
 * floatCopier(dst, Float32Array.of(1, 2, 3))(0, 1, 2); // dst = [2, 3]
 * ```
 */
export function floatCopier(dst: Float32Array, src: Float32Array): FloatCopier {
  return kernelMemory()?.copier(dst, src) ??
    ((dstAt, srcAt, length) => dst.set(src.subarray(srcAt, srcAt + length), dstAt));
}

/**
 * Fills `array` with zeros, natively when it lies in the kernels' memory.
 *
 * @example
 * ```ts
 * import { zeroFloats } from "./memory.ts";
 * zeroFloats(Float32Array.of(1, 2)); // [0, 0]
 * ```
 */
export function zeroFloats(array: Float32Array): Float32Array {
  const memory = kernelMemory();
  if (memory) memory.zero(array);
  else array.fill(0);
  return array;
}

function createKernelMemory(memory: WebAssembly.Memory): KernelMemory {
  const bulk = instantiateEmbedded(COPY_WASM, { kernels: { memory } });
  const nativeCopy = bulk?.copy as ((dst: number, src: number, bytes: number) => void) | undefined;
  const nativeZero = bulk?.zero as ((dst: number, bytes: number) => void) | undefined;
  /** Every buffer object the memory handed out (a new one after each growth). */
  const buffers = new WeakSet<ArrayBufferLike>([memory.buffer]);
  let top = 0;
  let scratch = { at: 0, bytes: 0 };
  /** The address of `bytes` new bytes; throws a RangeError when the memory cannot grow. */
  const reserve = (bytes: number) => {
    const size = memory.buffer.byteLength, pages = size / PAGE;
    if (top + bytes + SLACK > size) {
      // grow by at least half again, so that a growing workload grows rarely
      const needed = Math.ceil((top + bytes + SLACK - size) / PAGE);
      memory.grow(Math.max(needed, Math.min(Math.ceil(pages / 2), MAX_PAGES - pages)));
      buffers.add(memory.buffer);
    }
    const at = top;
    top += bytes;
    return at;
  };
  const padded = (length: number) => 16 * Math.ceil(length / 4);
  const view = (at: number, length: number) => new Float32Array(memory.buffer, at, length);
  const addressOf = (array: ArrayBufferView) =>
    buffers.has(array.buffer) ? array.byteOffset : undefined;
  const copier = (dst: Float32Array, src: Float32Array): FloatCopier => {
    const to = addressOf(dst), from = addressOf(src);
    if (!nativeCopy || to === undefined || from === undefined) {
      return (dstAt, srcAt, n) => dst.set(src.subarray(srcAt, srcAt + n), dstAt);
    }
    return (dstAt, srcAt, n) => {
      if (dstAt < 0 || srcAt < 0 || dstAt + n > dst.length || srcAt + n > src.length) {
        throw new RangeError(`copy of ${n} floats out of bounds`);
      }
      nativeCopy(to + 4 * dstAt, from + 4 * srcAt, 4 * n);
    };
  };
  const zero = (array: Float32Array) => {
    const at = addressOf(array);
    if (nativeZero && at !== undefined) nativeZero(at, array.byteLength);
    else array.fill(0);
  };
  return {
    memory,
    floats(length) {
      try {
        return view(reserve(padded(length)), length);
      } catch (error) {
        if (error instanceof RangeError) return undefined; // no room to grow
        throw error;
      }
    },
    addressOf,
    copier,
    zero,
    run(inputs, outputs, kernel, zeroed = false) {
      // an output that is also an input (in place) shares the input's place
      const own = outputs.filter((a) => !inputs.includes(a));
      const operands = [...inputs, ...own];
      const outside = operands.map((a) => addressOf(a) === undefined);
      const bytes = operands.reduce((sum, a, i) => sum + (outside[i] ? padded(a.length) : 0), 0);
      if (bytes > scratch.bytes) scratch = { at: reserve(bytes), bytes };
      let next = scratch.at;
      const places = new Map(operands.map((a, i) => {
        if (!outside[i]) return [a, a.byteOffset];
        const at = next;
        next += padded(a.length);
        if (i < inputs.length) view(at, a.length).set(a);
        return [a, at];
      }));
      if (zeroed) own.forEach((a) => zero(view(places.get(a)!, a.length)));
      kernel([...inputs, ...outputs].map((a) => places.get(a)!));
      for (const a of outputs) {
        if (addressOf(a) === undefined) a.set(view(places.get(a)!, a.length));
      }
    },
  };
}
