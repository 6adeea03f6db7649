/**
 * The package's own imports: every module mod.ts ships imports only relative
 * paths, `node:` built-ins and pinned `npm:` packages — never a bare name
 * that would need the importer's import map — pinned to the versions
 * deno.json's import map uses for the rest of the repository.
 */
import assert from "node:assert/strict";

const REPO = new URL("../", import.meta.url);

/** Every TypeScript module of the SDK: mod.ts and what it pulls in. */
async function sdkModules(): Promise<string[]> {
  const info = new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "mod.ts"],
    cwd: REPO,
    stdout: "piped",
    stderr: "inherit",
  });
  const { modules } = JSON.parse(new TextDecoder().decode((await info.output()).stdout));
  return modules.map((module: { specifier: string }) => module.specifier)
    .filter((specifier: string) => specifier.startsWith(REPO.href));
}

Deno.test("package: SDK modules import relative paths, node: and npm: pinned as in deno.json", async () => {
  const { imports } = JSON.parse(await Deno.readTextFile(new URL("deno.json", REPO)));
  const modules = await sdkModules();
  assert.ok(modules.some((module) => module.endsWith("src/onnx/runtime.ts")), "the graph is whole");
  const pinned = new Set<string>();
  for (const module of modules) {
    const source = await Deno.readTextFile(new URL(module));
    const specifiers = source.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*)"([^"]+)"/g);
    for (const [, specifier] of specifiers) {
      if (specifier.startsWith(".") || specifier.startsWith("node:")) continue;
      const where = `${module.slice(REPO.href.length)} imports ${specifier}`;
      const name = specifier.match(/^npm:((?:@[^/]+\/)?[^@/]+)@/)?.[1];
      assert.ok(
        name,
        `${where}: a bare name needs the importer's import map; pin npm:name@version`,
      );
      assert.equal(specifier, imports[name], `${where}: deno.json pins ${imports[name]}`);
      pinned.add(name);
    }
  }
  assert.deepEqual([...pinned].sort(), ["onnxruntime-node", "onnxruntime-web", "sharp"]);
});
