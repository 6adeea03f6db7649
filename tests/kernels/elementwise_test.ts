import assert from "node:assert/strict";
import { broadcastShapes } from "../../kernels/broadcast.ts";
import { forEachRow, planBroadcast } from "../../kernels/strided.ts";
import { createWasmBinaryKernel, type WasmBinaryOp } from "../../kernels/wasm/elementwise.ts";
import { NormalStream } from "../../src/rng.ts";

const kernel = createWasmBinaryKernel();

const OPS: Record<WasmBinaryOp, (x: number, y: number) => number> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Multiply: (x, y) => x * y,
};

/** Normal values with NaN, ±Infinity, ±0 and a subnormal sprinkled in. */
function values(size: number, seed: number): Float32Array {
  const out = new NormalStream(seed).fill(new Float32Array(size));
  const specials = [NaN, Infinity, -Infinity, 0, -0, 1e-40, 3.4e38];
  for (let i = seed % 5; i < size; i += 97) out[i] = specials[i % specials.length];
  return out;
}

Deno.test("wasm element-wise: every op and broadcast equals the JavaScript loop, value for value", () => {
  assert.ok(kernel, "WebAssembly SIMD is available in Deno");
  const pairs: [number[], number[]][] = [
    [[4099], [4099]], // a tail of 3 after the vectors
    [[300, 128], [128]], // bias: b repeats per row
    [[300, 128], [300, 1]], // b is one value per row
    [[7, 16, 37], [7, 1, 37]], // modulation: b repeats across the middle dim
    [[1], [5000]], // a is a single value
    [[64, 1, 20], [1, 50, 20]], // both broadcast
    [[3], [3]], // shorter than one vector
  ];
  pairs.forEach(([aShape, bShape], p) => {
    const outShape = broadcastShapes(aShape, bShape, "test");
    const size = outShape.reduce((n, d) => n * d, 1);
    const plan = planBroadcast(outShape, [aShape, bShape]);
    const last = plan.shape.length - 1;
    const [aStep, bStep] = [plan.strides[0][last], plan.strides[1][last]] as (0 | 1)[];
    const a = values(aShape.reduce((n, d) => n * d, 1), 10 + p);
    const b = values(bShape.reduce((n, d) => n * d, 1), 20 + p);
    for (const [op, f] of Object.entries(OPS) as [WasmBinaryOp, typeof OPS.Add][]) {
      const expected = new Float32Array(size);
      let at = 0;
      forEachRow(plan, (offsets, length) => {
        for (let i = 0; i < length; i++) {
          expected[at++] = f(a[offsets[0] + i * aStep], b[offsets[1] + i * bStep]);
        }
      });
      const got = kernel(
        op,
        a,
        aStep,
        b,
        bStep,
        size,
        (visit) => forEachRow(plan, (offsets, length) => visit(offsets[0], offsets[1], length)),
      );
      assert.equal(got.length, size);
      for (let i = 0; i < size; i++) {
        if (!Object.is(got[i], expected[i])) {
          assert.fail(`${op} [${aShape}] [${bShape}] at ${i}: ${got[i]} ≠ ${expected[i]}`);
        }
      }
    }
  });
});

Deno.test("wasm element-wise: memory grows for large operands and rows must cover the output", () => {
  assert.ok(kernel);
  const size = 1 << 20; // 4 MiB per operand: past the first pages
  const a = values(size, 1), b = values(size, 2);
  const sum = kernel("Add", a, 1, b, 1, size, (visit) => visit(0, 0, size));
  assert.ok(sum.every((v, i) => Object.is(v, Math.fround(a[i] + b[i]))));
  assert.throws(
    () => kernel("Add", a, 1, b, 1, size, (visit) => visit(0, 0, size - 1)),
    /rows covered 1048575 of 1048576 values/,
  );
});
