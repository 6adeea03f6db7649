/**
 * Chooses and activates the TF.js backend for training: `tensorflow-gpu`
 * (`@tensorflow/tfjs-node-gpu`), `tensorflow` (`@tensorflow/tfjs-node`),
 * `blas` (the CPU backend with OpenBLAS and fast JavaScript kernels from
 * `kernels/tfjs-blas.ts`) or `cpu` (TF.js's stock CPU kernels). `auto` tries
 * them in that order and logs what it chose and why.
 *
 * The libtensorflow packages are never dependencies of this project: they are
 * imported dynamically and only if the user added them to `deno.json`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
// The union package registers every op's gradient; tfjs-core's npm entry has none.
import "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-cpu";
import { tryLoadBlas } from "../kernels/blas.ts";
import { installBlasKernels, uninstallBlasKernels } from "../kernels/tfjs-blas.ts";
import { ExpectedError } from "../cli/command.ts";

/** A backend a user can ask for. */
export type BackendRequest = "auto" | BackendName;
/** A concrete backend. */
export type BackendName = "tensorflow-gpu" | "tensorflow" | "blas" | "cpu";

/** Every accepted `--backend` value, in `auto`'s order of preference after `auto`. */
export const BACKEND_REQUESTS: readonly BackendRequest[] = [
  "auto",
  "tensorflow-gpu",
  "tensorflow",
  "blas",
  "cpu",
];

/** The backend that was activated. */
export interface BackendChoice {
  /** Which backend runs the ops. */
  name: BackendName;
  /** TF.js's name for it (`tf.getBackend()`): `"tensorflow"` or `"cpu"`. */
  tfBackend: string;
  /** Why it was chosen, including why better ones were skipped under `auto`. */
  reason: string;
}

/** Options for {@link selectBackend}; the defaults suit the trainer. */
export interface SelectBackendOptions {
  /** BLAS library to load instead of the usual names (see `kernels/blas.ts`). */
  blasLibrary?: string;
  /** OpenBLAS threads (default: `$FLOWMAP_BLAS_THREADS`, else the library's own). */
  blasThreads?: number;
  /** How to import a package by name; tests substitute it. Default: dynamic `import()`. */
  importPackage?: (name: string) => Promise<unknown>;
}

/** Thrown when a requested backend cannot be used; the message says how to install it. */
export class BackendUnavailableError extends ExpectedError {
  /**
   * Wraps a message that names the missing backend and how to install it.
   *
   * @example
   * ```ts
   * import { BackendUnavailableError } from "./backend.ts";
   * new BackendUnavailableError("backend blas is unavailable: ...").name; // "BackendUnavailableError"
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "BackendUnavailableError";
  }
}

/**
 * Checks a `--backend` value.
 *
 * @example
 * ```ts
 * import { parseBackendRequest } from "./backend.ts";
 * parseBackendRequest("blas"); // "blas"
 * ```
 */
export function parseBackendRequest(value: string): BackendRequest {
  const request = BACKEND_REQUESTS.find((name) => name === value);
  if (!request) {
    throw new Error(`unknown backend "${value}"; use one of: ${BACKEND_REQUESTS.join(", ")}`);
  }
  return request;
}

const NODE_PACKAGES = {
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
  tensorflow: "@tensorflow/tfjs-node",
} as const;

/**
 * Activates the requested backend and reports the choice through `log`.
 * Throws {@link BackendUnavailableError} if an explicitly requested backend
 * is missing; `auto` always succeeds (plain CPU is the last resort).
 *
 * @example
 * ```ts ignore
 * import { selectBackend } from "./backend.ts";
 * const choice = await selectBackend("auto", console.log);
 * // backend: blas — OpenBLAS libopenblas.so.0 (2 threads) ...
 * ```
 */
export async function selectBackend(
  request: BackendRequest,
  log: (message: string) => void,
  options: SelectBackendOptions = {},
): Promise<BackendChoice> {
  const candidates: BackendName[] = request === "auto"
    ? ["tensorflow-gpu", "tensorflow", "blas", "cpu"]
    : [request];
  const skipped: string[] = [];
  for (const name of candidates) {
    const attempt = await activate(name, options);
    if ("problem" in attempt) {
      if (request !== "auto") {
        throw new BackendUnavailableError(
          `backend ${name} is unavailable: ${attempt.problem}; ${attempt.remedy}`,
        );
      }
      skipped.push(`${name}: ${attempt.problem}`);
      continue;
    }
    const choice = skipped.length === 0
      ? attempt
      : { ...attempt, reason: `${attempt.reason}; skipped ${skipped.join(", ")}` };
    log(`backend: ${choice.name} — ${choice.reason}`);
    if (choice.name === "cpu" && request === "auto") log(STOCK_CPU_WARNING);
    return choice;
  }
  throw new BackendUnavailableError(`no backend could be activated: ${skipped.join(", ")}`);
}

/**
 * Logged when `auto` ends on the stock kernels: the one-line fix and its
 * cost (`deno task bench` measures the ratio; docs/benchmarks.md has the
 * latest).
 */
export const STOCK_CPU_WARNING =
  "warning: OpenBLAS not found, so training runs on TF.js's stock CPU kernels, many times slower; " +
  "install it with `apt-get install libopenblas0-pthread` (or set FLOWMAP_BLAS_LIB to its path)";

/** Why a backend cannot be used and what to do about it. */
interface Unavailable {
  problem: string;
  remedy: string;
}

/** Activates one backend, or returns why it cannot. */
async function activate(
  name: BackendName,
  options: SelectBackendOptions,
): Promise<BackendChoice | Unavailable> {
  if (name === "cpu") {
    uninstallBlasKernels();
    await useCpuBackend();
    return { name, tfBackend: "cpu", reason: "TF.js stock CPU kernels" };
  }
  if (name === "blas") {
    const blas = tryLoadBlas({ library: options.blasLibrary, threads: options.blasThreads });
    if (blas instanceof Error) return { problem: "no BLAS library found", remedy: blas.message };
    await useCpuBackend();
    installBlasKernels(blas);
    const threads = blas.threads === undefined ? "" : `, ${blas.threads} threads`;
    return { name, tfBackend: "cpu", reason: `OpenBLAS sgemm from ${blas.library}${threads}` };
  }
  const pkg = NODE_PACKAGES[name];
  const importPackage = options.importPackage ?? ((specifier: string) => import(specifier));
  try {
    await importPackage(pkg);
  } catch (error) {
    return {
      problem: `${pkg} is not installed`,
      remedy: `install it with \`deno add npm:${pkg}@${tf.version_core} && ` +
        `deno install --allow-scripts=npm:${pkg}\`` +
        (name === "tensorflow-gpu" ? " on a Linux host with CUDA and cuDNN" : "") +
        ` (import failed: ${firstLine(error)})`,
    };
  }
  const remedy = `install the ${pkg} version matching @tensorflow/tfjs-core ${tf.version_core}`;
  if (!tf.findBackendFactory("tensorflow")) {
    return { problem: `${pkg} registered no "tensorflow" backend with this TF.js`, remedy };
  }
  uninstallBlasKernels();
  if (!(await tf.setBackend("tensorflow"))) {
    return { problem: `${pkg} failed to initialise libtensorflow`, remedy };
  }
  return { name, tfBackend: "tensorflow", reason: `libtensorflow through ${pkg}` };
}

/**
 * Makes TF.js's CPU backend current without its first-write banner: that
 * banner advises installing tfjs-node, which this module already offers (and
 * reports on) as a backend of its own.
 */
async function useCpuBackend(): Promise<void> {
  await tf.setBackend("cpu");
  const backend = tf.backend() as tf.KernelBackend & { firstUse?: boolean };
  if (backend.firstUse !== undefined) backend.firstUse = false;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}
