/**
 * Generation inside the page: the SDK's own `loadModel` (runtime `"web"`,
 * onnxruntime-web on WebAssembly) over the model bytes the service serves,
 * and the SDK's `generate` (sampler, seeded noise, pixels), re-exported.
 * Bundled for the browser from these source files by `deno bundle` (see
 * `bundle.ts`): nothing of the SDK is copied.
 *
 * @module
 */

import { env } from "onnxruntime-web";
import { loadModel, type Model } from "../../mod.ts";

export { generate, type GenerateOptions, type Image } from "../../mod.ts";
export type { Model };

/**
 * Loads the served model into onnxruntime-web with one thread (no
 * cross-origin isolation needed), the runtime's `.wasm` and `.mjs` fetched
 * from `runtimeFiles` (a directory URL ending in `/`), never from a CDN.
 *
 * @param modelUrl the `.onnx` file's URL; the SDK fetches its weights file from next to it
 * @example
 * ```ts ignore
 * import { generate, loadBrowserModel } from "./browser.ts";
 * const model = await loadBrowserModel(
 *   new URL("/playground/model/model.onnx", location.href),
 *   new URL("/playground/ort/", location.href),
 * );
 * const [image] = await generate(model, { prompt: "two red circles", steps: 2, seed: 7 });
 * ```
 */
export async function loadBrowserModel(modelUrl: URL, runtimeFiles: URL): Promise<Model> {
  if (!runtimeFiles.pathname.endsWith("/")) {
    throw new TypeError(`runtimeFiles must be a directory URL ending in "/", got ${runtimeFiles}`);
  }
  env.wasm.wasmPaths = runtimeFiles.href;
  env.wasm.proxy = false;
  return await loadModel(modelUrl, { runtime: "web", threads: 1 });
}
