/**
 * The playground's request: form fields and query parameters (all strings)
 * checked into a {@linkcode PlaygroundRequest}, or into messages that say
 * which field is wrong and what it accepts. Pure, so the page and the tests
 * share it.
 *
 * @module
 */

/** Where a playground run generates. */
export type PlaygroundRuntime = "server" | "browser";

/** The runtimes, in the order the page offers them. */
export const PLAYGROUND_RUNTIMES: readonly PlaygroundRuntime[] = Object.freeze([
  "server",
  "browser",
]);

/** Most steps the page offers (the service may allow more). */
export const PLAYGROUND_MAX_STEPS = 4;

/** The fields the page has, which are also its query parameters (with `run`). */
export const PLAYGROUND_FIELDS: readonly string[] = Object.freeze([
  "prompt",
  "steps",
  "seed",
  "n",
  "adapter",
  "runtime",
]);

/** What the served model and the service allow. */
export interface PlaygroundBounds {
  /** Most steps (the page caps it at {@linkcode PLAYGROUND_MAX_STEPS}). */
  readonly maxSteps: number;
  /** Most images per run. */
  readonly maxImages: number;
  /** Longest prompt in characters. */
  readonly maxPromptChars: number;
  /** Names of the adapters the service lists. */
  readonly adapters: readonly string[];
}

/** A checked run. */
export interface PlaygroundRequest {
  /** The prompt of every image. */
  readonly prompt: string;
  /** Sampling steps. */
  readonly steps: number;
  /** Seed of the first image; `undefined`: the page draws one. */
  readonly seed: number | undefined;
  /** Images. */
  readonly n: number;
  /** The adapter to merge, if any (server runtime only). */
  readonly adapter: string | undefined;
  /** Where to generate. */
  readonly runtime: PlaygroundRuntime;
}

/** A {@linkcode PlaygroundRequest}, or why the fields do not make one. */
export type ParsedFields =
  | { readonly ok: true; readonly request: PlaygroundRequest }
  | { readonly ok: false; readonly errors: readonly string[] };

/** Query parameters split into form values, whether to start a run, and problems. */
export interface ParsedQuery {
  /** Values of the known fields given in the query, to prefill the form. */
  readonly fields: Readonly<Record<string, string>>;
  /** `run=1`: start a run once the form is filled. */
  readonly run: boolean;
  /** Unknown, repeated or malformed parameters. */
  readonly errors: readonly string[];
}

/**
 * Checks the form's fields (missing ones take the defaults: steps 2 or the
 * largest allowed, n 1, no seed, no adapter, runtime server).
 *
 * @example
 * ```ts
 * import { parsePlaygroundFields } from "./params.ts";
 * const bounds = { maxSteps: 8, maxImages: 8, maxPromptChars: 256, adapters: [] };
 * const parsed = parsePlaygroundFields({ prompt: "two red circles", seed: "7" }, bounds);
 * if (parsed.ok) parsed.request.seed; // 7
 * ```
 */
export function parsePlaygroundFields(
  fields: Readonly<Record<string, string | undefined>>,
  bounds: PlaygroundBounds,
): ParsedFields {
  const errors: string[] = [];
  const maxSteps = Math.min(PLAYGROUND_MAX_STEPS, bounds.maxSteps);
  const prompt = (fields.prompt ?? "").trim();
  if (prompt === "") errors.push("prompt: type a prompt, e.g. two red circles");
  else if (prompt.length > bounds.maxPromptChars) {
    errors.push(`prompt: at most ${bounds.maxPromptChars} characters, got ${prompt.length}`);
  }
  const steps = integer(fields.steps, "steps", 1, maxSteps, errors) ?? Math.min(2, maxSteps);
  const n = integer(fields.n, "n", 1, bounds.maxImages, errors) ?? 1;
  const seed = integer(fields.seed, "seed", 0, Number.MAX_SAFE_INTEGER - (n - 1), errors);
  const adapter = blank(fields.adapter) ? undefined : fields.adapter!.trim();
  if (adapter !== undefined && !bounds.adapters.includes(adapter)) {
    const listed = bounds.adapters.length === 0
      ? "the service lists none"
      : `the service lists ${bounds.adapters.map(quote).join(", ")}`;
    errors.push(`adapter: no adapter named ${quote(adapter)}; ${listed}`);
  }
  const runtimeText = blank(fields.runtime) ? "server" : fields.runtime!.trim();
  const runtime = PLAYGROUND_RUNTIMES.find((name) => name === runtimeText);
  if (runtime === undefined) {
    errors.push(`runtime: "server" or "browser", got ${quote(runtimeText)}`);
  } else if (runtime === "browser" && adapter !== undefined) {
    errors.push('adapter: adapters run on the server only; choose runtime "server" or no adapter');
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, request: { prompt, steps, seed, n, adapter, runtime: runtime! } };
}

/**
 * Splits a page URL's query into the form's values and `run`; unknown and
 * repeated parameters are problems (a misspelt `sede=7` would otherwise run
 * with a different seed than the user meant).
 *
 * @example
 * ```ts
 * import { parsePlaygroundQuery } from "./params.ts";
 * const query = parsePlaygroundQuery(new URLSearchParams("prompt=two+red+circles&run=1"));
 * query.run; // true
 * ```
 */
export function parsePlaygroundQuery(search: URLSearchParams): ParsedQuery {
  const fields: Record<string, string> = {};
  const errors: string[] = [];
  let run = false;
  const seen = new Set<string>();
  for (const [key, value] of search) {
    if (seen.has(key)) {
      errors.push(`query parameter ${quote(key)} is given more than once`);
      continue;
    }
    seen.add(key);
    if (key === "run") {
      if (value === "1" || value === "true") run = true;
      else if (value !== "0" && value !== "false") {
        errors.push(`run: 1 to start a run, 0 not to, got ${quote(value)}`);
      }
    } else if (PLAYGROUND_FIELDS.includes(key)) fields[key] = value;
    else {
      errors.push(
        `unknown query parameter ${quote(key)}; the page takes ${
          [...PLAYGROUND_FIELDS, "run"].join(", ")
        }`,
      );
    }
  }
  return { fields, run, errors };
}

function integer(
  text: string | undefined,
  name: string,
  min: number,
  max: number,
  errors: string[],
): number | undefined {
  if (blank(text)) return undefined;
  const trimmed = text!.trim();
  const value = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(value) || value < min || value > max) {
    errors.push(`${name}: an integer from ${min} to ${max}, got ${quote(trimmed)}`);
    return undefined;
  }
  return value;
}

function blank(text: string | undefined): boolean {
  return text === undefined || text.trim() === "";
}

function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}
