/**
 * The playground's script: `page.ts` and the SDK modules it imports, bundled
 * for the browser by `deno bundle` (the running Deno, so the same import map
 * and `npm:` resolution as the service) when first asked for, and kept for
 * the life of the process. Users run no build step.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/**
 * Packages the SDK imports only on other runtimes (onnxruntime-node, the
 * native runtime; sharp, the PNG/WebP encoder): left out of the bundle, in
 * both the import-map and the `npm:` spelling. The page never reaches them.
 */
export const BUNDLE_EXTERNALS: readonly string[] = Object.freeze([
  "onnxruntime-node",
  "npm:onnxruntime-node*",
  "sharp",
  "npm:sharp*",
]);

const ENTRY = new URL("./page.ts", import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url);

/**
 * Bundles the page's script: one ES module with onnxruntime-web inside (its
 * `.wasm` is fetched at run time). Needs `--allow-run` (it runs `deno bundle`)
 * and local source files.
 *
 * @example
 * ```ts ignore
 * import { bundlePlayground } from "./bundle.ts";
 * const script = await bundlePlayground();
 * ```
 */
export async function bundlePlayground(): Promise<string> {
  if (ENTRY.protocol !== "file:") {
    throw new Error(
      `the playground bundles its script from local source files, but this copy runs from ${ENTRY}`,
    );
  }
  const output = await Deno.makeTempFile({ prefix: "playground-", suffix: ".js" });
  try {
    const args = [
      "bundle",
      "--quiet",
      "--platform=browser",
      "--format=esm",
      `--config=${fileURLToPath(CONFIG)}`,
      ...BUNDLE_EXTERNALS.map((name) => `--external=${name}`),
      `--output=${output}`,
      fileURLToPath(ENTRY),
    ];
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      const text = new TextDecoder().decode(stderr).trim();
      throw new Error(`deno bundle of the playground failed (exit ${code}): ${text}`);
    }
    return await Deno.readTextFile(output);
  } finally {
    await Deno.remove(output).catch(() => {});
  }
}

/**
 * One bundle per process, built on first use and shared by concurrent
 * requests; a failed build is not kept, so the next request tries again.
 */
export class PlaygroundScript {
  readonly #build: () => Promise<string>;
  #script: Promise<string> | undefined;

  /**
   * A script made by `build` on first use.
   *
   * @param build makes the script (default {@linkcode bundlePlayground})
   */
  constructor(build: () => Promise<string> = bundlePlayground) {
    this.#build = build;
  }

  /** The script, bundling it on the first call. */
  get(): Promise<string> {
    this.#script ??= this.#build().catch((error) => {
      this.#script = undefined;
      throw error;
    });
    return this.#script;
  }
}

/** The process's shared playground script (apps use it unless given another). */
export const playgroundScript: PlaygroundScript = new PlaygroundScript();
