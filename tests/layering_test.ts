/**
 * The house's dependency rules, read from the import statements of every
 * source file: the SDK (`mod.ts`, `src/`) imports nothing from the trainer,
 * the service, the scripts, the TF.js kernels or TF.js itself; the service
 * reaches the SDK only through `mod.ts`; the kernels and the trainer never
 * import the service or the scripts; the command-line helpers (`cli/`) import
 * none of them; no file reaches itself through its imports; and the tests
 * mirror the source folders.
 */

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), ".."));
const FOLDERS = ["src", "kernels", "trainer", "serve", "scripts", "cli"];

/** Specifiers of static imports, re-exports and literal dynamic imports. */
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

function sourceFiles(): string[] {
  const files = ["mod.ts"];
  const walk = (folder: string) => {
    for (const entry of Deno.readDirSync(join(ROOT, folder))) {
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  FOLDERS.forEach(walk);
  return files;
}

/** Each file's imports: repo-relative paths for local files, the specifier otherwise. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles()) {
    // doc comments hold example imports; they are not the file's own
    const text = Deno.readTextFileSync(join(ROOT, file)).replace(/\/\*[\s\S]*?\*\//g, "");
    const targets: string[] = [];
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2];
      targets.push(
        specifier.startsWith(".")
          ? relative(ROOT, normalize(join(ROOT, dirname(file), specifier)))
          : specifier,
      );
    }
    graph.set(file, targets);
  }
  return graph;
}

const RULES: { from: RegExp; forbidden: RegExp; why: string }[] = [
  {
    from: /^(mod\.ts|src\/)/,
    forbidden: /^(trainer|serve|scripts|kernels|tests)\/|@tensorflow\//,
    why: "the SDK stands alone (edge-safe, no TF.js)",
  },
  {
    from: /^kernels\//,
    forbidden: /^(trainer|serve|scripts)\//,
    why: "kernels sit below the apps",
  },
  {
    from: /^trainer\//,
    forbidden: /^(serve|scripts)\//,
    why: "the trainer never imports apps above it",
  },
];

Deno.test("layering: every part imports only downward, the service through mod.ts", () => {
  const graph = importGraph();
  assert.ok(graph.size > 100, `read ${graph.size} files`);
  const broken: string[] = [];
  for (const [file, targets] of graph) {
    for (const rule of RULES) {
      if (!rule.from.test(file)) continue;
      for (const target of targets) {
        if (rule.forbidden.test(target)) broken.push(`${file} → ${target} (${rule.why})`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

Deno.test("layering: no file reaches itself through its imports", () => {
  const graph = importGraph();
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      cycles.push([...path.slice(path.indexOf(file)), file].join(" → "));
      return;
    }
    state.set(file, "open");
    for (const target of graph.get(file) ?? []) {
      if (graph.has(target)) visit(target, [...path, file]);
    }
    state.set(file, "done");
  };
  for (const file of graph.keys()) visit(file, []);
  assert.deepEqual(cycles, []);
});

Deno.test("layering: the import reader sees imports, re-exports and dynamic imports", () => {
  const graph = importGraph();
  assert.ok(graph.get("mod.ts")!.includes("src/generate.ts"), "mod.ts re-exports src/generate.ts");
  assert.ok(graph.get("trainer/policy.ts")!.includes("src/anchor.ts"), "a multi-line import");
  assert.ok(
    [...graph.values()].some((targets) => targets.some((t) => t.startsWith("npm:"))),
    "npm: specifiers are read",
  );
  assert.ok(!graph.get("trainer/backend.ts")!.includes("trainer/backend.ts"), "not doc examples");
});

Deno.test("layering: tests mirror the source folders", () => {
  const misplaced: string[] = [];
  const walk = (folder: string) => {
    for (const entry of Deno.readDirSync(join(ROOT, folder))) {
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory) {
        if (entry.name !== "fixtures") walk(path);
      } else if (entry.name.endsWith("_test.ts")) {
        // tests/<folder>/<name>_test.ts tests <folder>/; top-level tests cover mod.ts and the package
        const mirrored = dirname(path).replace(/^tests\/?/, "");
        if (mirrored !== "" && !isFolder(join(ROOT, mirrored))) misplaced.push(path);
      }
    }
  };
  walk("tests");
  assert.deepEqual(misplaced, [], "each test lives under the tests/ twin of the folder it tests");
});

function isFolder(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}
