import assert from "node:assert/strict";
import { tryLoadBlas } from "../../kernels/blas.ts";

Deno.test({
  name: "bench-kernels prints the machine's state, the matMul table and the step's profile",
  ignore: tryLoadBlas() instanceof Error,
  async fn() {
    const args = ["run", "-A", "scripts/bench-kernels.ts", "--sizes", "32", "--batch", "2"];
    args.push("--steps", "1", "--no-stock-step");
    const { code, stdout } = await new Deno.Command(Deno.execPath(), { args, stderr: "inherit" })
      .output();
    const text = new TextDecoder().decode(stdout);
    assert.equal(code, 0, text);
    assert.match(text, /load average \(1, 5, 15 min\) [\d.]+ [\d.]+ [\d.]+ before/);
    assert.match(text, /\| 32×32 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| \d+× \| \d+ % \|/);
    assert.match(text, /\| BLAS \+ fast kernels \| \d+ \| — \|/);
    assert.match(text, /Profile, BLAS kernels: step \d+ ms/);
  },
});
