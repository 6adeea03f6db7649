// The output pool: arrays come back when the last tensor on them is
// disposed, never while a tensor or a view still uses them, and what
// dataSync() returns stays the caller's.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import {
  installOutputPool,
  pooledFloatCount,
  releaseFloat32,
  takeFloat32,
  takeZeroedFloat32,
  uninstallOutputPool,
} from "../../kernels/tfjs-pool.ts";
import { kernelMemory } from "../../kernels/wasm/memory.ts";

tf.env().set("PROD", true);
await tf.setBackend("cpu");
const backend = tf.backend() as MathBackendCPU;

/** A tensor on `values`, made as a kernel makes its output. */
const tensorOn = (values: Float32Array) =>
  tf.engine().makeTensorFromTensorInfo(
    backend.makeTensorInfo([values.length], "float32", values),
  );

Deno.test("a pooled array returns when its tensor is disposed and is handed out again", () => {
  installOutputPool();
  try {
    const array = takeFloat32(8).fill(1);
    const tensor = tensorOn(array);
    assert.equal(pooledFloatCount(), 0);
    tensor.dispose();
    assert.equal(pooledFloatCount(), 8);
    assert.equal(takeFloat32(8), array);
    assert.equal(pooledFloatCount(), 0);
    assert.deepEqual([...takeZeroedFloat32(8)], new Array(8).fill(0));
  } finally {
    uninstallOutputPool();
  }
});

Deno.test("a pooled array stays out of the pool while a view or a second tensor uses it", () => {
  installOutputPool();
  try {
    const array = takeFloat32(8).fill(2);
    const whole = tensorOn(array);
    const shared = tf.reshape(whole, [2, 4]); // same data id, one more reference
    whole.dispose();
    assert.equal(pooledFloatCount(), 0, "the reshaped tensor still reads the array");
    shared.dispose();
    assert.equal(pooledFloatCount(), 8);
    assert.equal(takeFloat32(8), array);
    const parent = tensorOn(array);
    const view = tensorOn(array.subarray(2, 6)); // as the stock Slice kernel returns
    parent.dispose();
    view.dispose();
    assert.equal(pooledFloatCount(), 0, "an array a view was made on is never reused");
    assert.notEqual(takeFloat32(8), array);
  } finally {
    uninstallOutputPool();
  }
});

Deno.test("dataSync() of a pooled tensor is a copy that outlives reuse; scratch space returns", () => {
  installOutputPool();
  try {
    const array = takeFloat32(4).fill(3);
    const tensor = tensorOn(array);
    const read = tensor.dataSync();
    assert.notEqual(read, array);
    tensor.dispose();
    assert.equal(takeFloat32(4).fill(9), array);
    assert.deepEqual([...read], [3, 3, 3, 3]);
    const scratch = takeFloat32(16);
    releaseFloat32(scratch);
    assert.equal(takeFloat32(16), scratch);
  } finally {
    uninstallOutputPool();
  }
});

Deno.test("uninstalling restores the backend and keeps the pool for the next installation", () => {
  const write = backend.write, dispose = backend.disposeData, read = backend.readSync;
  installOutputPool();
  assert.notEqual(backend.disposeData, dispose);
  const pooled = takeFloat32(5), inUse = takeFloat32(5);
  const tensor = tensorOn(inUse);
  tensorOn(pooled).dispose();
  uninstallOutputPool();
  assert.equal(backend.write, write);
  assert.equal(backend.disposeData, dispose);
  assert.equal(backend.readSync, read);
  assert.equal(pooledFloatCount(), 5);
  assert.notEqual(takeFloat32(5), pooled, "not installed: a new array");
  installOutputPool();
  try {
    tensor.dispose(); // disposed after the uninstall: no longer tracked, so never reused
    assert.equal(takeFloat32(5), pooled);
    assert.notEqual(takeFloat32(5), inUse);
  } finally {
    uninstallOutputPool();
  }
});

Deno.test("pooled arrays lie in the WebAssembly kernels' memory", () => {
  installOutputPool();
  try {
    const memory = kernelMemory();
    if (memory === undefined) return; // no shared WebAssembly memory: plain arrays
    assert.notEqual(memory.addressOf(takeFloat32(6)), undefined);
    assert.equal(memory.addressOf(new Float32Array(6)), undefined);
  } finally {
    uninstallOutputPool();
  }
});
