import assert from "node:assert/strict";
import { UsageError } from "../../cli/command.ts";
import { FieldError, integer, list, number, oneOf, readFlag } from "../../cli/readers.ts";

/** The FieldError a read throws. */
function fieldError(read: () => unknown): FieldError {
  try {
    read();
  } catch (error) {
    assert.ok(error instanceof FieldError, `${error}`);
    return error;
  }
  assert.fail("no error");
}

Deno.test("readers: a flag and a JSON field read by the same reader agree", () => {
  const agree = <T>(type: { read(v: unknown, p: string): T }, json: unknown, text: string) =>
    assert.deepEqual(readFlag(type as never, text, "--x"), type.read(json, "x"));
  agree(integer({ min: 2 }), 16, "16");
  agree(number({ min: 0 }), 0.25, "0.25");
  agree(list(number({ min: 0 })), [0, 1, 3], "0,1,3");
  agree(oneOf(["onnx", "tfjs"] as const), "tfjs", "tfjs");
  // and refuse the same values, the flag's message showing the text as typed
  const json = fieldError(() => integer({ min: 0 }).read("lots", "queue"));
  assert.equal(json.message, 'queue must be an integer ≥ 0, got "lots"');
  assert.throws(
    () => readFlag(integer({ min: 0 }), "lots", "--queue"),
    (e: Error) =>
      e instanceof UsageError && e.message === "--queue must be an integer ≥ 0, got lots",
  );
  assert.throws(
    () => readFlag(list(number({ min: 0 })), "0,-1", "--line-search"),
    (e: Error) => e instanceof UsageError && /^--line-search\[1\] must be ≥ 0/.test(e.message),
  );
  assert.throws(() => readFlag(integer({ min: 1 }), "1.5", "--n"), /--n must be an integer ≥ 1/);
});
