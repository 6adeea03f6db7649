/**
 * The playground: `GET /` (the page), `/playground/style.css`,
 * `/playground/app.js` (the page's script, bundled from source on first
 * request), `/playground/config.json`, onnxruntime-web's `.wasm`/`.mjs`
 * files under `/playground/ort/` (from `node_modules`, never a CDN), and,
 * only when the service is told to, the model's own files under
 * `/playground/model/` for the browser runtime.
 *
 * Every playground response carries a strict Content-Security-Policy: scripts
 * only from this origin (the page has no inline script), WebAssembly
 * compilation (`'wasm-unsafe-eval'`, onnxruntime-web and the SDK's kernels),
 * fetches only to this origin, images from this origin, `data:` and `blob:`.
 *
 * @module
 */

import { Hono, type MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { ModelBytes, ModelInfo } from "../../mod.ts";
import { ApiError } from "../errors.ts";
import type { PlaygroundScript } from "../playground/bundle.ts";
import { MODEL_FILES_PATH, playgroundConfig, RUNTIME_FILES_PATH } from "../playground/config.ts";
import type { ValidationRules } from "../validate.ts";

/** The Content-Security-Policy of every playground response, by directive. */
export const PLAYGROUND_CSP: Readonly<Record<string, readonly string[]>> = Object.freeze({
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
  connectSrc: ["'self'"],
  imgSrc: ["'self'", "data:", "blob:"],
  styleSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
});

/** onnxruntime-web's files the page may load (plain and JSEP WebAssembly builds). */
export const RUNTIME_FILES: Readonly<Record<string, string>> = Object.freeze({
  "ort-wasm-simd-threaded.wasm": "application/wasm",
  "ort-wasm-simd-threaded.mjs": "text/javascript; charset=utf-8",
  "ort-wasm-simd-threaded.jsep.wasm": "application/wasm",
  "ort-wasm-simd-threaded.jsep.mjs": "text/javascript; charset=utf-8",
});

/** What {@linkcode playgroundRoute} serves. */
export interface PlaygroundRouteOptions {
  /** The served model's metadata. */
  readonly info: ModelInfo;
  /** The service's request rules (model id, size, limits). */
  readonly rules: ValidationRules;
  /** The page's script. */
  readonly script: PlaygroundScript;
  /** The model's files for the browser runtime; `undefined`: not served. */
  readonly browserModel?: ModelBytes;
}

/** The playground's routes. */
export function playgroundRoute(options: PlaygroundRouteOptions): Hono {
  const { info, rules, script, browserModel } = options;
  const config = playgroundConfig(info, rules, browserModel !== undefined);
  const modelFiles = new Map<string, Uint8Array>(
    browserModel === undefined
      ? []
      : [["model.onnx", browserModel.model], [info.externalData, browserModel.weights]],
  );
  const html = sourceText(new URL("../playground/index.html", import.meta.url));
  const css = sourceText(new URL("../playground/style.css", import.meta.url));
  const headers = secureHeaders({
    contentSecurityPolicy: Object.fromEntries(
      Object.entries(PLAYGROUND_CSP).map(([name, sources]) => [name, [...sources]]),
    ),
    strictTransportSecurity: false,
  });
  return new Hono()
    .use("/", headers)
    .use("/playground/*", headers)
    .get("/", async (c) => c.html(await html(), 200, { "Cache-Control": "no-cache" }))
    .get("/playground/style.css", async (c) =>
      c.body(await css(), 200, {
        "Content-Type": "text/css; charset=utf-8",
        "Cache-Control": "no-cache",
      }))
    .get("/playground/app.js", async (c) =>
      c.body(await script.get(), 200, {
        "Content-Type": "text/javascript; charset=utf-8",
        "Cache-Control": "no-cache",
      }))
    .get("/playground/config.json", (c) => c.json(config))
    .get(`${RUNTIME_FILES_PATH}:file`, runtimeFile)
    .get(`${MODEL_FILES_PATH}:file`, (c) => {
      const bytes = modelFiles.get(c.req.param("file"));
      if (bytes === undefined) {
        throw new ApiError(
          404,
          "not_found",
          modelFiles.size === 0
            ? "this service does not serve its model to browsers; start it with --browser-models"
            : `no model file ${JSON.stringify(c.req.param("file"))}; the model's files are ` +
              [...modelFiles.keys()].join(" and "),
        );
      }
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
        "Content-Type": "application/octet-stream",
        "Cache-Control": "no-cache",
      });
    });
}

/** Serves one of {@linkcode RUNTIME_FILES} from onnxruntime-web's `dist` directory. */
const runtimeFile: MiddlewareHandler = async (c) => {
  const name = c.req.param("file") ?? "";
  const type = Object.hasOwn(RUNTIME_FILES, name) ? RUNTIME_FILES[name] : undefined;
  if (type === undefined) {
    throw new ApiError(
      404,
      "not_found",
      `no runtime file ${JSON.stringify(name)}; the playground serves ${
        Object.keys(RUNTIME_FILES).join(", ")
      }`,
    );
  }
  const path = new URL(name, runtimeDirectory());
  const stat = await Deno.stat(path);
  const etag = `"${stat.size.toString(36)}-${(stat.mtime?.getTime() ?? 0).toString(36)}"`;
  const cache = { "Cache-Control": "no-cache", ETag: etag };
  if (c.req.header("If-None-Match") === etag) return c.body(null, 304, cache);
  const file = await Deno.open(path);
  return c.body(file.readable, 200, {
    ...cache,
    "Content-Type": type,
    "Content-Length": String(stat.size),
  });
};

/** onnxruntime-web's `dist` directory, as the service resolves the package. */
function runtimeDirectory(): URL {
  const entry = new URL(import.meta.resolve("onnxruntime-web"));
  if (entry.protocol !== "file:") {
    throw new Error(
      `onnxruntime-web resolves to ${entry}, not a local file; the playground serves its ` +
        `WebAssembly from node_modules (set "nodeModulesDir": "auto" in deno.json)`,
    );
  }
  return new URL(".", entry);
}

/** A file next to this source, read on first use and kept. */
function sourceText(url: URL): () => Promise<string> {
  let text: Promise<string> | undefined;
  return () => {
    text ??= Deno.readTextFile(url).catch((error) => {
      text = undefined;
      throw error;
    });
    return text;
  };
}
