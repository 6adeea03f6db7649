// The output pool: arrays come back when the last tensor on them is
// disposed, never while a tensor or a view still uses them, and never after
// dataSync() handed them out.
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
    const view = tensorOn(array.subarray(2, 6)); // as the stock Slice kernel returns
    const shared = tf.reshape(whole, [2, 4]); // same data id, one more reference
    whole.dispose();
    shared.dispose();
    assert.equal(pooledFloatCount(), 0, "the view still reads the array");
    assert.deepEqual([...view.dataSync()], [2, 2, 2, 2]);
    view.dispose();
    assert.equal(pooledFloatCount(), 0, "dataSync() handed the array out: never reused");
    assert.notEqual(takeFloat32(8), array);
  } finally {
    uninstallOutputPool();
  }
});

Deno.test("an array read by dataSync() is never reused, scratch space is", () => {
  installOutputPool();
  try {
    const array = takeFloat32(4).fill(3);
    const tensor = tensorOn(array);
    const read = tensor.dataSync();
    tensor.dispose();
    assert.equal(pooledFloatCount(), 0);
    takeFloat32(4).fill(9);
    assert.deepEqual([...read], [3, 3, 3, 3]);
    const scratch = takeFloat32(16);
    releaseFloat32(scratch);
    assert.equal(takeFloat32(16), scratch);
  } finally {
    uninstallOutputPool();
  }
});

Deno.test("uninstalling restores the backend and empties the pool; without it arrays are new", () => {
  const write = backend.write, dispose = backend.disposeData, read = backend.readSync;
  installOutputPool();
  assert.notEqual(backend.disposeData, dispose);
  tensorOn(takeFloat32(4)).dispose();
  assert.equal(pooledFloatCount(), 4);
  uninstallOutputPool();
  assert.equal(pooledFloatCount(), 0);
  assert.equal(backend.write, write);
  assert.equal(backend.disposeData, dispose);
  assert.equal(backend.readSync, read);
  const array = takeFloat32(4);
  tensorOn(array).dispose();
  assert.notEqual(takeFloat32(4), array);
});
