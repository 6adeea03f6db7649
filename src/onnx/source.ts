/**
 * Where model and adapter bytes come from: a file path, a URL (`file:` is
 * read from disk, anything else fetched), or bytes already in memory. A
 * model's external weights are read from next to the model file, under the
 * name its metadata records.
 *
 * @module
 */

import { ModelError } from "./model_error.ts";
import { type ModelInfo, readModelInfo } from "./model_info.ts";

/** A model already in memory: the ONNX file and its external weights file. */
export interface ModelBytes {
  /** The `.onnx` file's bytes. */
  readonly model: Uint8Array;
  /** The external data (`.bin`) file's bytes. */
  readonly weights: Uint8Array;
}

/**
 * A path to a `.onnx` file (its weights file sits next to it), a URL of one
 * (`file:`, `http:`, `https:`; the weights URL is resolved against it), or
 * the bytes of both files.
 */
export type ModelSource = string | URL | ModelBytes;

/** A model's bytes with its validated metadata. */
export interface ModelFiles extends ModelBytes {
  /** The metadata, read without a session. */
  readonly info: ModelInfo;
}

/**
 * Reads a model's two files and validates its metadata.
 *
 * @example
 * ```ts ignore
 * import { readModelFiles } from "./source.ts";
 * const { info, model, weights } = await readModelFiles("src/models/shapes-meanflow/model.onnx");
 * ```
 */
export async function readModelFiles(source: ModelSource): Promise<ModelFiles> {
  if (isModelBytes(source)) {
    // Copies, so later changes to the caller's buffers cannot reach the model.
    const model = source.model.slice(), weights = source.weights.slice();
    return { model, weights, info: readModelInfo(model) };
  }
  const location = locationOf(source);
  const model = await readBytes(location, "model file");
  const info = readModelInfo(model);
  const weights = await readBytes(siblingOf(location, info.externalData), "weights file");
  return { model, weights, info };
}

/**
 * The bytes at a path or URL: `file:` URLs and paths through `Deno.readFile`,
 * other URLs through `fetch`. Failures become a one-line {@linkcode ModelError}.
 *
 * @example
 * ```ts ignore
 * import { readBytes } from "./source.ts";
 * const adapter = await readBytes("runs/1/adapter.safetensors", "adapter file");
 * ```
 */
export async function readBytes(location: string | URL, what: string): Promise<Uint8Array> {
  const url = location instanceof URL ? location : asUrl(location);
  if (url !== undefined && url.protocol !== "file:") {
    let response: Response;
    try {
      response = await fetch(url);
    } catch (cause) {
      throw new ModelError(`cannot fetch ${what} ${url}: ${(cause as Error).message}`, { cause });
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new ModelError(
        `cannot fetch ${what} ${url}: HTTP ${response.status} ${response.statusText}`,
      );
    }
    return new Uint8Array(await response.arrayBuffer());
  }
  const deno = (globalThis as { Deno?: { readFile(path: string | URL): Promise<Uint8Array> } })
    .Deno;
  if (deno === undefined) {
    throw new ModelError(`reading ${what} ${location} needs Deno; pass an http(s) URL or bytes`);
  }
  try {
    return await deno.readFile(url ?? location);
  } catch (cause) {
    const message = (cause as Error).name === "NotFound"
      ? "no such file"
      : (cause as Error).message;
    throw new ModelError(`cannot read ${what} ${location}: ${message}`, { cause });
  }
}

function isModelBytes(source: ModelSource): source is ModelBytes {
  if (typeof source === "string" || source instanceof URL) return false;
  if (!(source?.model instanceof Uint8Array) || !(source?.weights instanceof Uint8Array)) {
    throw new ModelError(
      "a model source is a path, a URL or { model: Uint8Array, weights: Uint8Array }",
    );
  }
  return true;
}

function locationOf(source: string | URL): string | URL {
  return source instanceof URL ? source : asUrl(source) ?? source;
}

function asUrl(location: string): URL | undefined {
  return /^(https?|file):/i.test(location) ? new URL(location) : undefined;
}

function siblingOf(location: string | URL, name: string): string | URL {
  if (location instanceof URL) return new URL(name, location);
  return location.replace(/[^/\\]*$/, name);
}
