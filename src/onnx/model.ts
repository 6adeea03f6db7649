/**
 * `loadModel`: a flow-map ONNX model with its metadata, prompt encoder and
 * ONNX Runtime session, and LoRA adapters merged into its external weights.
 *
 * @module
 */

import type { FlowMap } from "../flowmap.ts";
import { type LoraAdapter, parseLoraAdapter } from "../lora/adapter.ts";
import { mergeLoraAdapters } from "../lora/merge.ts";
import { onnxFlowMap } from "./flowmap.ts";
import { ModelError } from "./model_error.ts";
import { MODEL_IO, type ModelInfo } from "./model_info.ts";
import { openRuntime, type OrtSession, type Runtime, type RuntimeName } from "./runtime.ts";
import { type ModelFiles, type ModelSource, readBytes, readModelFiles } from "./source.ts";

/** The bundled default model: `src/models/<name>/model.onnx`, with `model.bin` and `card.md`. */
const BUNDLED_MODEL = new URL("../models/shapes-meanflow/model.onnx", import.meta.url);

/** Options of {@linkcode loadModel}. */
export interface LoadModelOptions {
  /**
   * `"node"` (default): onnxruntime-node, native, needs `--allow-ffi`.
   * `"web"`: onnxruntime-web (WebAssembly), for edge runtimes and sandboxes
   * without FFI, needing only read access to the model and its npm package.
   * Outputs match `"node"` within 1e-4, so 8-bit images differ by at most
   * one level, in a few values.
   */
  readonly runtime?: RuntimeName;
  /**
   * Threads per evaluation. Node: the session's intra-op pool (default: one
   * per core). Web: `env.wasm.numThreads`, fixed by the first web model a
   * process loads.
   */
  readonly threads?: number;
}

/** A LoRA adapter to merge, and how strongly. */
export interface AdapterSpec {
  /** A safetensors file (path or URL), its bytes, or an adapter parsed with `parseLoraAdapter`. */
  readonly source: string | URL | Uint8Array | LoraAdapter;
  /** Multiplier of the adapter's update (default 1: as trained; 0 disables it). */
  readonly scale?: number;
}

/**
 * A loaded flow-map model. Dispose it when done (or `await using` it); a
 * disposed model refuses to run.
 */
export interface Model {
  /** What the model file's metadata says (kind, path, image shape, default grid, …). */
  readonly info: ModelInfo;
  /** The ONNX Runtime package running it. */
  readonly runtime: RuntimeName;
  /** The model as a flow map; its conditioning is {@linkcode Model.encodePrompts}'s output. */
  readonly flowMap: FlowMap<Int32Array>;
  /** Encodes prompts to `[prompts.length × maxTokens]` token ids with the model's tokenizer. */
  encodePrompts(prompts: readonly string[]): Int32Array;
  /**
   * A new model: the base weights with exactly these adapters merged (docs/math.md §7),
   * in a session of its own. Adapters merged before are not kept, so
   * `withAdapters([])` gives back the base weights byte for byte. This model
   * is unchanged; dispose each model separately. Adapters whose modules or
   * shapes do not match the model are refused with a `LoraError` naming them.
   */
  withAdapters(adapters: readonly AdapterSpec[]): Promise<Model>;
  /** Releases the session. Idempotent. */
  dispose(): Promise<void>;
  /** Same as {@linkcode Model.dispose}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Loads a flow-map model: the ONNX file and its external weights (read from
 * next to it), its metadata, and an ONNX Runtime session.
 *
 * @param source a path or URL of the `.onnx` file, or `{ model, weights }`
 *   bytes; default: the bundled `shapes-meanflow` model
 * @example Generate with the bundled model
 * ```ts ignore
 * import { encodeImage, generate, loadModel } from "./mod.ts";
 * await using model = await loadModel();
 * const [image] = await generate(model, { prompt: "two red circles", steps: 2, seed: 7 });
 * await Deno.writeFile("out.png", await encodeImage(image, "png"));
 * ```
 * @example On an edge runtime: WebAssembly, weights fetched
 * ```ts ignore
 * import { loadModel } from "./mod.ts";
 * const model = await loadModel(new URL("https://example.com/m/model.onnx"), { runtime: "web" });
 * ```
 */
export async function loadModel(
  source?: ModelSource,
  options: LoadModelOptions = {},
): Promise<Model> {
  const files = source === undefined ? await readBundledModel() : await readModelFiles(source);
  const runtime = await openRuntime(options.runtime ?? "node", options.threads);
  return await openModel(runtime, files, files.weights);
}

async function readBundledModel(): Promise<ModelFiles> {
  try {
    return await readModelFiles(BUNDLED_MODEL);
  } catch (cause) {
    throw new ModelError(
      `the bundled model shapes-meanflow is missing or unreadable (${(cause as Error).message}); ` +
        "expected src/models/shapes-meanflow/model.onnx with model.bin and card.md next to it — " +
        "pass a model path, URL or bytes instead",
      { cause },
    );
  }
}

/**
 * Opens a model over a runtime the caller already has (what {@linkcode loadModel}
 * does after reading the files); `weights` replace the base weights, as
 * `withAdapters` uses it. Internal: benchmarks pass a runtime that records the
 * session, so they can time `session.run` on the very session `generate` uses.
 *
 * @example
 * ```ts ignore
 * import { openModel } from "./model.ts";
 * import { openRuntime } from "./runtime.ts";
 * import { readModelFiles } from "./source.ts";
 * const files = await readModelFiles("src/models/shapes-meanflow/model.onnx");
 * const model = await openModel(await openRuntime("node", 1), files, files.weights);
 * ```
 */
export async function openModel(
  runtime: Runtime,
  base: ModelFiles,
  weights: Uint8Array,
): Promise<Model> {
  let session: OrtSession;
  try {
    session = await runtime.createSession(base.model, {
      path: base.info.externalData,
      data: weights,
    });
  } catch (cause) {
    throw new ModelError(
      `onnxruntime-${runtime.name} cannot open the model: ${(cause as Error).message}`,
      { cause },
    );
  }
  const io = MODEL_IO[base.info.kind];
  if (
    [...session.inputNames].sort().join() !== [...io.inputs].sort().join() ||
    !session.outputNames.includes(io.output)
  ) {
    await session.release();
    throw new ModelError(
      `a ${base.info.kind} model must take ${io.inputs.join(", ")} and return ${io.output}; ` +
        `this one takes ${session.inputNames.join(", ")} and returns ${
          session.outputNames.join(", ")
        }`,
    );
  }
  return new OnnxModel(runtime, base, session);
}

class OnnxModel implements Model {
  readonly info: ModelInfo;
  readonly runtime: RuntimeName;
  readonly flowMap: FlowMap<Int32Array>;
  readonly #runtime: Runtime;
  readonly #base: ModelFiles;
  #session: OrtSession | undefined;

  constructor(runtime: Runtime, base: ModelFiles, session: OrtSession) {
    this.info = base.info;
    this.runtime = runtime.name;
    this.#runtime = runtime;
    this.#base = base;
    this.#session = session;
    this.flowMap = onnxFlowMap(base.info, runtime.ort, () => this.#live());
  }

  encodePrompts(prompts: readonly string[]): Int32Array {
    this.#live();
    return this.info.tokenizer.encodeBatch(prompts);
  }

  async withAdapters(adapters: readonly AdapterSpec[]): Promise<Model> {
    this.#live();
    if (!Array.isArray(adapters)) {
      throw new TypeError("withAdapters takes a list of { source, scale } (empty: the base model)");
    }
    const scaled = await Promise.all(adapters.map(async ({ source, scale = 1 }) => ({
      adapter: await readAdapter(source),
      scale,
    })));
    const weights = mergeLoraAdapters(this.#base.weights, this.info.loraTargets, scaled);
    return await openModel(this.#runtime, this.#base, weights);
  }

  async dispose(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    await session?.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  #live(): OrtSession {
    if (this.#session === undefined) {
      throw new ModelError("this model was disposed; load it again to keep using it");
    }
    return this.#session;
  }
}

async function readAdapter(source: AdapterSpec["source"]): Promise<LoraAdapter> {
  if (source instanceof Uint8Array) return parseLoraAdapter(source);
  if (typeof source === "string" || source instanceof URL) {
    return parseLoraAdapter(await readBytes(source, "adapter file"));
  }
  if (source?.modules instanceof Map) return source;
  throw new TypeError("an adapter source is a path, a URL, safetensors bytes or a LoraAdapter");
}
