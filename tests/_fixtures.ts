/**
 * Tiny flow-map models for the SDK suites, emitted once per process into a
 * temporary directory as `<kind>/model.onnx` + `model.bin` (the bundled
 * layout), with random weights so outputs are far from trivial.
 *
 * @module
 */

import { meanFlowConfig, type ModelConfig, scmConfig } from "../trainer/model/config.ts";
import { emitOnnx, type OnnxModelFiles } from "../trainer/model/onnx.ts";
import type { ParameterTable } from "../trainer/model/parameters.ts";
import { SHAPES_MAX_TOKENS, SHAPES_VOCABULARY, SHAPES_VOCABULARY_VERSION } from "../src/text.ts";
import { randomParameters } from "./_model.ts";

const tiny = { depth: 1, hiddenDim: 32, heads: 2, textDim: 16, frequencyDim: 16 };

/** The default grids the tiny models record. */
export const DEFAULT_GRIDS = { "two-time": [1, 0.5, 0], "one-time": [1.5, 1.1, 0] } as const;

/** One emitted tiny model. */
export interface TinyModel {
  /** Its architecture. */
  readonly config: ModelConfig;
  /** Its weights (linear weights `[out, in]`). */
  readonly parameters: ParameterTable;
  /** The emitted files. */
  readonly files: OnnxModelFiles;
  /** Path of `model.onnx` on disk. */
  readonly path: string;
}

/** The tiny models by kind, and the directory holding them. */
export interface TinyModels {
  readonly dir: string;
  readonly "two-time": TinyModel;
  readonly "one-time": TinyModel;
}

let built: Promise<TinyModels> | undefined;

/** Emits (once per process) a tiny two-time and one-time model into a temp directory. */
export function tinyModels(): Promise<TinyModels> {
  built ??= build();
  return built;
}

async function build(): Promise<TinyModels> {
  const dir = await Deno.makeTempDir({ prefix: "sdk-models-" });
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  const entries = await Promise.all(
    [meanFlowConfig, scmConfig].map(async (base, seed): Promise<[string, TinyModel]> => {
      const config = { ...base, ...tiny };
      const parameters = randomParameters(config, 100 + seed);
      const files = emitOnnx(config, parameters, {
        name: "model",
        tokenizer: {
          version: SHAPES_VOCABULARY_VERSION,
          maxTokens: SHAPES_MAX_TOKENS,
          vocabulary: SHAPES_VOCABULARY,
        },
        defaultGrid: DEFAULT_GRIDS[config.kind],
      });
      await Deno.mkdir(`${dir}/${config.kind}`);
      const path = `${dir}/${config.kind}/model.onnx`;
      await Deno.writeFile(path, files.model);
      await Deno.writeFile(`${dir}/${config.kind}/${files.externalDataFile}`, files.externalData);
      return [config.kind, { config, parameters, files, path }];
    }),
  );
  return { dir, ...Object.fromEntries(entries) } as TinyModels;
}

/**
 * Runs `deno --quiet` with arguments, from the repository root unless `cwd`
 * says otherwise; returns exit code and text output. `--quiet` keeps Deno's
 * own lines (npm downloads and lifecycle-script warnings on a first run,
 * type-check notes) out of stderr, so it holds only what the program wrote;
 * uncaught errors still show.
 */
export async function runDeno(
  args: readonly string[],
  stdin?: string,
  cwd: string | URL = new URL("../", import.meta.url),
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["--quiet", ...args],
    cwd,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}
