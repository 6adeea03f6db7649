// The WebAssembly kernels' shared memory: arrays made there keep their
// values when it grows, copies and fills are exact inside and across it, and
// a kernel run places operands from elsewhere in scratch space and back.
import assert from "node:assert/strict";
import { floatCopier, kernelMemory, zeroFloats } from "../../kernels/wasm/memory.ts";

const memory = kernelMemory();
const ignore = memory === undefined;

Deno.test({
  name: "arrays in the kernel memory survive its growth and are told apart from others",
  ignore,
  fn() {
    const { floats, addressOf } = memory!;
    const first = floats(5)!.fill(7);
    floats(3 * 65536); // grows the memory by several pages
    assert.deepEqual([...first], [7, 7, 7, 7, 7]);
    const second = floats(2)!;
    assert.equal((addressOf(second)! - addressOf(first)!) % 16, 0, "16-byte aligned");
    assert.equal(addressOf(new Float32Array(2)), undefined);
  },
});

Deno.test({
  name: "copies and zero fills are exact within the memory, across it and when ranges overlap",
  ignore,
  fn() {
    const { floats } = memory!;
    const a = floats(8)!, b = floats(8)!, plain = new Float32Array(8);
    a.set([1, 2, 3, 4, 5, 6, 7, 8]);
    floatCopier(b, a)(2, 1, 5);
    assert.deepEqual([...b.subarray(2, 7)], [2, 3, 4, 5, 6]);
    floatCopier(plain, a)(0, 4, 4);
    assert.deepEqual([...plain.subarray(0, 4)], [5, 6, 7, 8]);
    floatCopier(a, plain)(0, 0, 2);
    assert.deepEqual([...a.subarray(0, 3)], [5, 6, 3]);
    floatCopier(a, a)(2, 0, 6); // overlapping, like memmove
    assert.deepEqual([...a], [5, 6, 5, 6, 3, 4, 5, 6]);
    assert.throws(() => floatCopier(b, a)(4, 0, 5), RangeError);
    assert.deepEqual([...zeroFloats(a)], new Array(8).fill(0));
    assert.deepEqual([...zeroFloats(Float32Array.of(1, 2))], [0, 0]);
  },
});

Deno.test({
  name: "a kernel run reads operands from elsewhere, writes results back and updates in place",
  ignore,
  fn() {
    const { floats, run, memory: wasm } = memory!;
    const view = (at: number, n: number) => new Float32Array(wasm.buffer, at, n);
    const inside = floats(4)!.fill(2), outside = Float32Array.of(1, 2, 3, 4);
    const out = new Float32Array(4).fill(9), inPlace = Float32Array.of(5, 6, 7, 8);
    run([inside, outside, inPlace], [out, inPlace], ([a, b, c, o, c2]) => {
      assert.equal(a, memory!.addressOf(inside), "operands in the memory are used in place");
      assert.equal(c2, c, "an output that is an input shares its place");
      assert.deepEqual([...view(o, 4)], [0, 0, 0, 0], "outputs start zeroed when asked");
      const x = view(a, 4), y = view(b, 4), z = view(c, 4), result = view(o, 4);
      for (let i = 0; i < 4; i++) {
        result[i] = x[i] * y[i];
        z[i] += 1;
      }
    }, true);
    assert.deepEqual([...out], [2, 4, 6, 8]);
    assert.deepEqual([...inPlace], [6, 7, 8, 9]);
  },
});
