import assert from "node:assert/strict";
import { alongside } from "../../trainer/alongside.ts";

const later = <T>(ms: number, value: () => T) =>
  new Promise<T>((resolve, reject) =>
    setTimeout(() => {
      try {
        resolve(value());
      } catch (error) {
        reject(error);
      }
    }, ms)
  );

Deno.test("alongside: returns this thread's result with the others' answers, in order", async () => {
  const [mine, theirs] = await alongside([later(5, () => "a"), Promise.resolve("b")], () => 1);
  assert.equal(mine, 1);
  assert.deepEqual(theirs, ["a", "b"]);
});

Deno.test("alongside: an answer failing before the work is done is held and then thrown", async () => {
  // unhandled, the early rejection would fail this test on its own
  const early = Promise.reject(new Error("worker: broke"));
  await assert.rejects(alongside([early], () => later(20, () => 1)), /worker: broke/);
});

Deno.test("alongside: a failing work waits for the answers, and its error wins", async () => {
  let settled = false;
  const slow = later(10, () => {
    settled = true;
    throw new Error("theirs");
  });
  await assert.rejects(
    alongside([slow], () => {
      throw new Error("mine");
    }),
    /mine/,
  );
  assert.ok(settled, "the answer had settled before the error came back");
});
