import assert from "node:assert/strict";
import * as sdk from "../mod.ts";

Deno.test("mod.ts exports the public contract's math", () => {
  for (
    const name of [
      "rectifiedFlow",
      "trigFlow",
      "uniformGrid",
      "shiftedGrid",
      "angularGrid",
      "validateGrid",
      "endpointAnchor",
      "localAnchor",
      "naiveIntermediateAnchor",
      "sdeStep",
      "NormalStream",
      "BatchNoise",
      "gaussianLogProb",
    ]
  ) {
    assert.ok(name in sdk, `mod.ts must export ${name}`);
  }
});

Deno.test("mod.ts loads and runs with no permissions at all (edge-safe)", async () => {
  const script = `
    import { BatchNoise, endpointAnchor, rectifiedFlow, uniformGrid } from "${
    new URL("../mod.ts", import.meta.url).href
  }";
    const grid = uniformGrid(2);
    const step = endpointAnchor(rectifiedFlow, grid[0], grid[1]);
    const noise = new BatchNoise([1]).fill(new Float32Array(4));
    console.log(JSON.stringify({ std: step.std, finite: noise.every(Number.isFinite) }));
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--no-config", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(stdout)), { std: 0.5, finite: true });
});
