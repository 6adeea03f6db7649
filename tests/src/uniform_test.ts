import assert from "node:assert/strict";
import { philox4x32, UniformStream } from "../../mod.ts";

Deno.test("UniformStream reads Philox words in order, divided by 2^32", () => {
  const rng = new UniformStream(5, 3);
  const words = new Uint32Array(4);
  for (let block = 0; block < 3; block++) {
    philox4x32([block, 0, 3, 0], [5, 0], words);
    for (const w of words) assert.equal(rng.next(), w / 2 ** 32);
  }
  assert.equal(rng.position, 12);
});

Deno.test("UniformStream is deterministic, in range, and its integers cover 0..n-1", () => {
  const a = new UniformStream(42), b = new UniformStream(42);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 6000; i++) {
    const u = a.next();
    assert.equal(u, b.next());
    assert.ok(u >= 0 && u < 1);
  }
  for (let i = 0; i < 6000; i++) counts[a.nextInt(6)] += 1;
  for (const c of counts) assert.ok(c > 850 && c < 1150, `die counts ${counts}`);
  const x = a.nextRange(2, 3);
  assert.ok(x >= 2 && x < 3);
  assert.throws(() => a.nextInt(0), RangeError);
  assert.throws(() => new UniformStream(-1), RangeError);
});
