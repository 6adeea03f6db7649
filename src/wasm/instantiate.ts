/**
 * Instantiates an embedded WebAssembly module (base64, from
 * `deno task build-wasm`), or returns `undefined` where the runtime has no
 * WebAssembly or cannot validate the module (no SIMD), so callers fall back
 * to their JavaScript reference.
 *
 * @example
 * ```ts
 * import { instantiateEmbedded } from "./instantiate.ts";
 * import { PIXELS_WASM } from "./pixels_wasm.ts";
 * const exports = instantiateEmbedded(PIXELS_WASM); // { memory, convert, interleave }
 * ```
 *
 * @module
 */

/** The module's exports, or `undefined` when this runtime cannot run it. */
export function instantiateEmbedded(
  base64: string,
  imports?: WebAssembly.Imports,
): WebAssembly.Exports | undefined {
  if (typeof WebAssembly === "undefined") return undefined;
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  if (!WebAssembly.validate(bytes)) return undefined;
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), imports).exports;
}

/**
 * `create`, called once on first use: later calls return its result, an
 * absent kernel (`undefined`) included.
 *
 * @example
 * ```ts
 * import { onFirstUse } from "./instantiate.ts";
 * const kernel = onFirstUse(() => ({ ready: true }));
 * kernel() === kernel(); // true: created once
 * ```
 */
export function onFirstUse<T>(create: () => T | undefined): () => T | undefined {
  let created = false;
  let value: T | undefined;
  return () => {
    if (!created) {
      value = create();
      created = true;
    }
    return value;
  };
}
