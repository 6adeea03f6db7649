/**
 * Writes a benchmark script's section of a markdown file between its
 * `<!-- name:begin -->` and `<!-- name:end -->` markers, replacing what was
 * there, or appends it (creating the file) when the markers are absent, then
 * formats the file (the committed docs must pass `deno fmt --check`).
 *
 * @module
 */

/**
 * Replaces or appends the `name` section of the markdown file at `path`.
 *
 * @example
 * ```ts ignore
 * import { writeDocsSection } from "./docs_section.ts";
 * await writeDocsSection("docs/benchmarks.md", "bench-update", "## Trainer update\n…");
 * ```
 */
export async function writeDocsSection(path: string, name: string, section: string): Promise<void> {
  const begin = `<!-- ${name}:begin -->`, end = `<!-- ${name}:end -->`;
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    text = "# Benchmarks\n";
  }
  const block = `${begin}\n\n${section}\n\n${end}`;
  const i = text.indexOf(begin), j = text.indexOf(end);
  text = i >= 0 && j > i
    ? text.slice(0, i) + block + text.slice(j + end.length)
    : `${text.trimEnd()}\n\n${block}\n`;
  await Deno.writeTextFile(path, text);
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", path] }).output();
}
