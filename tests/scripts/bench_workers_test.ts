import assert from "node:assert/strict";

Deno.test("bench-workers runs train with 1 and 2 workers and prints its table", async () => {
  const args = ["run", "-A", "scripts/bench-workers.ts", "--config"];
  args.push("trainer/configs/tiny-brightness.json", "--rounds", "1", "--iterations", "1");
  const { code, stdout } = await new Deno.Command(Deno.execPath(), { args, stderr: "inherit" })
    .output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, text);
  const figures = String.raw`[\d.]+ / [\d.]+ / [\d.]+`;
  const settings = [
    "1 worker, library threads",
    "1 worker, 1 thread",
    "2 workers",
    "two 1-thread runs side by side",
  ];
  for (const setting of settings) {
    assert.match(text, new RegExp(`\\| ${setting} \\| ${figures} \\| ${figures} \\|`), setting);
  }
  assert.match(text, new RegExp(`2 workers ÷ 1 worker, round by round: ${figures}×`));
});
