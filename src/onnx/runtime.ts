/**
 * ONNX Runtime, loaded on demand: `"node"` is onnxruntime-node (native, needs
 * `--allow-ffi`), `"web"` is onnxruntime-web (WebAssembly; runs without FFI,
 * e.g. on edge runtimes). Neither is imported until a model is loaded, so
 * importing the SDK stays edge-safe.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- pinned in the SDK: importers need no import map
import type * as OrtNode from "npm:onnxruntime-node@1.30.0";
import { ModelError } from "./model_error.ts";

/** Which ONNX Runtime package runs a model. */
export type RuntimeName = "node" | "web";

/** The ONNX Runtime API both packages share (onnxruntime-common). */
export type Ort = typeof OrtNode;

/** An ONNX Runtime inference session. */
export type OrtSession = OrtNode.InferenceSession;

/** A loaded runtime with a thread setting, able to open sessions. */
export interface Runtime {
  /** The package in use. */
  readonly name: RuntimeName;
  /** Threads per session; `undefined` is the runtime's default. */
  readonly threads: number | undefined;
  /** The package's API (for tensors). */
  readonly ort: Ort;
  /** Opens a session over model bytes, with the bytes of its external data file if it has one. */
  createSession(
    model: Uint8Array,
    externalData?: { readonly path: string; readonly data: Uint8Array },
  ): Promise<OrtSession>;
}

/**
 * onnxruntime-web fixes its thread count when its WebAssembly starts, at the
 * first web session of a process: `null` until then, afterwards the count
 * requested then (`undefined` for the runtime's default).
 */
let webThreadsAtStart: number | undefined | null = null;

/**
 * Imports a runtime package and applies the thread count: the intra-op pool
 * of each session (`"node"`), or `env.wasm.numThreads` (`"web"`; it can only
 * be chosen before the first web session of a process).
 *
 * @example
 * ```ts ignore
 * import { openRuntime } from "./runtime.ts";
 * const runtime = await openRuntime("web", 1);
 * ```
 */
export async function openRuntime(name: RuntimeName, threads?: number): Promise<Runtime> {
  if (name !== "node" && name !== "web") {
    throw new ModelError(`runtime must be "node" or "web", got ${JSON.stringify(name)}`);
  }
  if (threads !== undefined && !(Number.isSafeInteger(threads) && threads > 0)) {
    throw new ModelError(`threads must be a positive integer, got ${threads}`);
  }
  const ort = name === "node" ? await importNode() : await importWeb(threads);
  const sessionOptions: OrtNode.InferenceSession.SessionOptions = name === "node" && threads
    ? { intraOpNumThreads: threads, interOpNumThreads: 1 }
    : {};
  const runtime: Runtime = {
    name,
    threads,
    ort,
    createSession(model, externalData) {
      if (name === "web") webThreadsAtStart ??= threads;
      return ort.InferenceSession.create(model, {
        ...sessionOptions,
        ...(externalData && { externalData: [externalData] }),
      });
    },
  };
  return Object.freeze(runtime);
}

async function importNode(): Promise<Ort> {
  try {
    // deno-lint-ignore no-import-prefix -- pinned in the SDK: importers need no import map
    return await import("npm:onnxruntime-node@1.30.0");
  } catch (cause) {
    throw new ModelError(
      `cannot load onnxruntime-node (${(cause as Error).message}); it needs --allow-ffi — ` +
        `use runtime: "web" where native code is not allowed`,
      { cause },
    );
  }
}

async function importWeb(threads: number | undefined): Promise<Ort> {
  if (webThreadsAtStart !== null && threads !== undefined && threads !== webThreadsAtStart) {
    const current = webThreadsAtStart === undefined
      ? "its default thread count"
      : `${webThreadsAtStart} threads`;
    throw new ModelError(
      `onnxruntime-web already runs with ${current} in this process; ` +
        `it cannot switch to ${threads}`,
    );
  }
  let ort: Ort;
  try {
    // deno-lint-ignore no-import-prefix -- pinned in the SDK: importers need no import map
    ort = await import("npm:onnxruntime-web@1.30.0") as unknown as Ort;
  } catch (cause) {
    throw new ModelError(
      `cannot load onnxruntime-web (${(cause as Error).message}); Deno downloads it from npm ` +
        `on first use (the registry must be reachable once), then reads it from its cache`,
      { cause },
    );
  }
  if (threads !== undefined) ort.env.wasm.numThreads = threads;
  return ort;
}
