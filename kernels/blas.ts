/**
 * OpenBLAS (or any CBLAS) loaded through `Deno.dlopen`: single-precision
 * GEMM on row-major Float32Arrays, with bounds checked before every call so
 * a wrong shape is an error, never a read past the end of a buffer.
 *
 * The library is found by the override variable {@link BLAS_LIB_ENV}, then by
 * the usual names of OpenBLAS and the system BLAS on Linux and macOS. Needs
 * `--allow-ffi` (and `--allow-env` to read the overrides).
 *
 * @module
 */

/** Environment variable naming the BLAS shared library to load (a path or a soname). */
export const BLAS_LIB_ENV = "FLOWMAP_BLAS_LIB";
/** Environment variable setting the number of OpenBLAS threads. */
export const BLAS_THREADS_ENV = "FLOWMAP_BLAS_THREADS";

/** Library names tried in order when {@link BLAS_LIB_ENV} is unset. */
export const BLAS_LIB_CANDIDATES: readonly string[] = [
  "libopenblas.so.0",
  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "libopenblas.so",
  "libblas.so.3",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
  "/usr/local/opt/openblas/lib/libopenblas.dylib",
  "libopenblas.dylib",
];

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
  openblas_get_num_threads: { parameters: [], result: "i32", optional: true },
} as const;

/** Thrown when no BLAS library can be loaded; the message lists every attempt. */
export class BlasUnavailableError extends Error {
  /** Each library tried and why it failed. */
  readonly attempts: readonly string[];

  /**
   * Builds the error from the list of failed attempts.
   *
   * @example
   * ```ts
   * import { BlasUnavailableError } from "./blas.ts";
   * const error = new BlasUnavailableError(["libopenblas.so.0: not found"]);
   * error.message; // "no BLAS library could be loaded ..."
   * ```
   */
  constructor(attempts: readonly string[]) {
    super(
      `no BLAS library could be loaded (install OpenBLAS, e.g. ` +
        `\`apt-get install libopenblas0-pthread\`, or set ${BLAS_LIB_ENV} to its path):\n  ` +
        attempts.join("\n  "),
    );
    this.name = "BlasUnavailableError";
    this.attempts = attempts;
  }
}

/** Where to find the library and how many threads it may use. */
export interface LoadBlasOptions {
  /** Library to load; default: `$FLOWMAP_BLAS_LIB`, else {@link BLAS_LIB_CANDIDATES}. */
  library?: string;
  /** OpenBLAS threads; default: `$FLOWMAP_BLAS_THREADS`, else the library's own default. */
  threads?: number;
}

/** A loaded CBLAS library. */
export interface Blas {
  /** The library name or path that was loaded. */
  readonly library: string;
  /** OpenBLAS thread count, or `undefined` when the library cannot report it. */
  readonly threads: number | undefined;
  /**
   * Row-major `C = alpha · op(A) · op(B) + beta · C` with `op(A)` of shape
   * `m×k` and `op(B)` of shape `k×n`; `lda`, `ldb`, `ldc` are the row strides
   * of the stored (untransposed) arrays. Throws if a buffer is too short.
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
  ): void;
  /** Sets the OpenBLAS thread count (no-op for libraries without that call). */
  setThreads(threads: number): void;
  /** Unloads the library; the object must not be used afterwards. */
  close(): void;
}

/**
 * Loads a CBLAS library, trying the override and then the usual names.
 * Throws {@link BlasUnavailableError} when none loads.
 *
 * @example
 * ```ts ignore
 * import { loadBlas } from "./blas.ts";
 * const blas = loadBlas();
 * const c = new Float32Array(1);
 * blas.sgemm(false, false, 1, 1, 2, 1, Float32Array.of(1, 2), 2, Float32Array.of(3, 4), 1, 0, c, 1);
 * // c = [11]
 * ```
 */
export function loadBlas(options: LoadBlasOptions = {}): Blas {
  const override = options.library ?? readEnv(BLAS_LIB_ENV);
  const candidates = override ? [override] : BLAS_LIB_CANDIDATES;
  const attempts: string[] = [];
  for (const library of candidates) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(library, SYMBOLS);
    } catch (error) {
      attempts.push(`${library}: ${firstLine(error)}`);
      continue;
    }
    const blas = wrap(library, lib);
    const threads = options.threads ?? threadsFromEnv();
    if (threads !== undefined) blas.setThreads(threads);
    return blas;
  }
  throw new BlasUnavailableError(attempts);
}

/**
 * The thread count `$FLOWMAP_BLAS_THREADS` asks for (`undefined` when unset);
 * the trainer gives its ONNX Runtime sessions the same count.
 *
 * @example
 * ```ts
 * import { threadsFromEnv } from "./blas.ts";
 * const threads = threadsFromEnv(); // e.g. 1 with FLOWMAP_BLAS_THREADS=1
 * ```
 */
export function threadsFromEnv(): number | undefined {
  return parseThreads(readEnv(BLAS_THREADS_ENV));
}

/**
 * Like {@link loadBlas}, but returns the error instead of throwing it.
 *
 * @example
 * ```ts ignore
 * import { tryLoadBlas } from "./blas.ts";
 * const result = tryLoadBlas();
 * console.log(result instanceof Error ? result.message : `loaded ${result.library}`);
 * ```
 */
export function tryLoadBlas(options: LoadBlasOptions = {}): Blas | BlasUnavailableError {
  try {
    return loadBlas(options);
  } catch (error) {
    if (error instanceof BlasUnavailableError) return error;
    throw error;
  }
}

function wrap(library: string, lib: Deno.DynamicLibrary<typeof SYMBOLS>): Blas {
  const { cblas_sgemm, openblas_set_num_threads, openblas_get_num_threads } = lib.symbols;
  return {
    library,
    get threads() {
      return openblas_get_num_threads ? openblas_get_num_threads() : undefined;
    },
    sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
      checkOperand("A", a, transA ? k : m, transA ? m : k, lda);
      checkOperand("B", b, transB ? n : k, transB ? k : n, ldb);
      checkOperand("C", c, m, n, ldc);
      if (m === 0 || n === 0) return;
      cblas_sgemm(
        ROW_MAJOR,
        transA ? TRANS : NO_TRANS,
        transB ? TRANS : NO_TRANS,
        m,
        n,
        k,
        alpha,
        a,
        Math.max(lda, 1),
        b,
        Math.max(ldb, 1),
        beta,
        c,
        Math.max(ldc, 1),
      );
    },
    setThreads(threads) {
      if (!Number.isInteger(threads) || threads < 1) {
        throw new RangeError(`BLAS threads must be a positive integer, got ${threads}`);
      }
      openblas_set_num_threads?.(threads);
    },
    close: () => lib.close(),
  };
}

/** A row-major `rows×cols` operand with row stride `ld` must fit in `data`. */
function checkOperand(name: string, data: Float32Array, rows: number, cols: number, ld: number) {
  if (!(Number.isInteger(rows) && rows >= 0 && Number.isInteger(cols) && cols >= 0)) {
    throw new RangeError(`sgemm: ${name} has invalid shape ${rows}×${cols}`);
  }
  if (!Number.isInteger(ld) || ld < Math.max(cols, 1)) {
    throw new RangeError(`sgemm: leading dimension of ${name} is ${ld}, needs at least ${cols}`);
  }
  const needed = rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
  if (data.length < needed) {
    throw new RangeError(`sgemm: ${name} holds ${data.length} floats, needs ${needed}`);
  }
}

function parseThreads(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const threads = Number(value);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`${BLAS_THREADS_ENV} must be a positive integer, got "${value}"`);
  }
  return threads;
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}
