import assert from "node:assert/strict";
import { writeDocsSection } from "../../scripts/bench/docs_section.ts";
import { tryLoadBlas } from "../../kernels/blas.ts";

Deno.test("writeDocsSection replaces its own section, appends it when absent, and formats the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/benchmarks.md`;
    await writeDocsSection(path, "bench-x", "first");
    assert.equal(
      await Deno.readTextFile(path),
      "# Benchmarks\n\n<!-- bench-x:begin -->\n\nfirst\n\n<!-- bench-x:end -->\n",
    );
    await Deno.writeTextFile(path, (await Deno.readTextFile(path)) + "\n## Later\n");
    await writeDocsSection(path, "bench-x", "second");
    await writeDocsSection(path, "bench-y", "other");
    const text = await Deno.readTextFile(path);
    assert.match(text, /<!-- bench-x:begin -->\n\nsecond\n\n<!-- bench-x:end -->\n\n## Later\n/);
    assert.doesNotMatch(text, /first/);
    assert.match(text, /<!-- bench-y:begin -->\n\nother\n\n<!-- bench-y:end -->\n$/);
    await writeDocsSection(path, "bench-y", "| a | b |\n| - | -: |\n| long | 1 |");
    const check = await new Deno.Command(Deno.execPath(), { args: ["fmt", "--check", path] })
      .output();
    assert.equal(check.code, 0, "the written file passes deno fmt --check");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "bench-update times a pass of a small config and prints its tables",
  ignore: tryLoadBlas() instanceof Error,
  async fn() {
    const args = ["run", "-A", "scripts/bench-update.ts", "--config"];
    args.push("trainer/configs/tiny-brightness.json", "--rounds", "1", "--passes", "1");
    const { code, stdout } = await new Deno.Command(Deno.execPath(), { args, stderr: "inherit" })
      .output();
    const text = new TextDecoder().decode(stdout);
    assert.equal(code, 0, text);
    assert.match(text, /\| update pass \(ours\) \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+× \|/);
    assert.match(text, /\| ONNX Runtime forward \| [\d.]+ \|/);
    assert.match(text, /\| FlowmapLoraLinear \| [\d.]+ \| \d+ \|/);
  },
});
