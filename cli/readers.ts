/**
 * Field readers: each checks one value (parsed JSON, or a flag's text through
 * {@link readFlag}) and returns it typed, or throws a {@link FieldError} that
 * names the field's path and the rule broken (`rollout.groupSize must be an
 * integer ≥ 2, got 1`). The same reader serves a config file, an HTTP body
 * and a command-line flag; `./fields.ts` declares schemas with them.
 *
 * @example
 * ```ts
 * import { integer, readFlag } from "./readers.ts";
 * integer({ min: 2 }).read(16, "batches") === readFlag(integer({ min: 2 }), "16", "--batches"); // true
 * ```
 *
 * @module
 */

import { ExpectedError, UsageError } from "./command.ts";

/** What is wrong with a field, in the words of the service's error codes. */
export type FieldProblem =
  | "invalid_type"
  | "out_of_range"
  | "invalid_value"
  | "unknown_field"
  | "missing_field";

/**
 * A value does not fit its field; the message starts with the field's path.
 *
 * @example
 * ```ts
 * import { FieldError, integer } from "./readers.ts";
 * try {
 *   integer({ min: 2 }).read(1, "rollout.groupSize");
 * } catch (error) {
 *   (error as FieldError).message; // "rollout.groupSize must be an integer ≥ 2, got 1"
 *   (error as FieldError).problem; // "out_of_range"
 * }
 * ```
 */
export class FieldError extends ExpectedError {
  /** "FieldError". */
  override name = "FieldError";
  /** The field's path (`reward[0].mode`), or "" for a problem of the whole input. */
  readonly path: string;
  /** The kind of problem. */
  readonly problem: FieldProblem;
  /** The rule broken, without path or value (`must be an integer ≥ 2`), when there is one. */
  readonly requirement?: string;

  /**
   * A bad value of the field at `path`.
   *
   * @param path the field's path
   * @param problem the kind of problem
   * @param message the whole message, starting with the path
   * @param requirement the rule broken (lets {@link readFlag} restate it for a flag)
   */
  constructor(path: string, problem: FieldProblem, message: string, requirement?: string) {
    super(message);
    this.path = path;
    this.problem = problem;
    if (requirement !== undefined) this.requirement = requirement;
  }
}

/** Reads one value of type `T`. */
export interface Field<T> {
  /** What a value must be, as messages say it (`an integer ≥ 1`). */
  readonly expects: string;
  /** Checks `value` (parsed JSON) and returns it as a `T`, or throws a {@link FieldError} at `path`. */
  read(value: unknown, path: string): T;
  /** The JSON value a command-line flag's text stands for (`"8"` → 8, `"1,2"` → [1, 2]). */
  fromText(text: string): unknown;
}

/**
 * Reads a command-line flag's text with a field's reader; a bad value is a
 * {@link UsageError} that restates the rule for the flag (`--queue must be
 * an integer ≥ 0, got lots`); an absent flag (`undefined`) reads as `undefined`.
 *
 * @example
 * ```ts
 * import { integer, readFlag } from "./readers.ts";
 * readFlag(integer({ min: 2 }), "16", "--batches"); // 16
 * ```
 */
export function readFlag<T>(type: Field<T>, text: string, flag: string): T;
/** An absent flag (`undefined` text) reads as `undefined`. */
export function readFlag<T>(type: Field<T>, text: string | undefined, flag: string): T | undefined;
export function readFlag<T>(type: Field<T>, text: string | undefined, flag: string): T | undefined {
  if (text === undefined) return undefined;
  try {
    return type.read(type.fromText(text), flag);
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    // the whole flag's value is shown as typed; an element's as read (`--grid[1] … got -1`)
    const message = error.requirement !== undefined && error.path === flag
      ? `${flag} ${error.requirement}, got ${text}`
      : error.message;
    throw new UsageError(message);
  }
}

/** A value as messages show it (`nothing` for undefined). */
export function describe(value: unknown): string {
  return value === undefined ? "nothing" : JSON.stringify(value) ?? String(value);
}

/** Throws the error of a value that breaks `requirement`. */
function fail(path: string, problem: FieldProblem, requirement: string, value: unknown): never {
  throw new FieldError(
    path,
    problem,
    `${path} ${requirement}, got ${describe(value)}`,
    requirement,
  );
}

const asText = (text: string): unknown => text;
/** A flag's JSON text as its value; other text as itself, for the reader to refuse. */
export const fromJsonText = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};
const asNumber = (text: string): unknown =>
  text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text;

/**
 * A safe integer in `[min, max]` (each bound optional). A non-number is
 * `invalid_type`; a fraction or a value out of bounds is `out_of_range`.
 *
 * @example
 * ```ts
 * import { integer } from "./readers.ts";
 * integer({ min: 1, max: 8 }).read(4, "n"); // 4
 * ```
 */
export function integer(bounds: { min?: number; max?: number } = {}): Field<number> {
  const { min = -Infinity, max = Infinity } = bounds;
  const expects = max === Infinity
    ? (min === -Infinity ? "an integer" : `an integer ≥ ${min}`)
    : `an integer in ${min}..${max}`;
  return {
    expects,
    read(value, path) {
      if (typeof value !== "number") fail(path, "invalid_type", `must be ${expects}`, value);
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        fail(path, "out_of_range", `must be ${expects}`, value);
      }
      return value;
    },
    fromText: (text) => /^[-+]?\d+$/.test(text) ? Number(text) : text,
  };
}

/**
 * A finite number, optionally bounded: `min`/`max` inclusive unless
 * `open` names the bound as exclusive.
 *
 * @example
 * ```ts
 * import { number } from "./readers.ts";
 * const eta = number({ min: 0, max: 1, open: "min" }); // (0, 1]
 * eta.read(0.5, "rollout.anchor.eta"); // 0.5
 * ```
 */
export function number(
  bounds: { min?: number; max?: number; open?: "min" | "max" | "both" } = {},
): Field<number> {
  const { min, max, open } = bounds;
  const minOpen = open === "min" || open === "both", maxOpen = open === "max" || open === "both";
  const range = min !== undefined && max !== undefined
    ? `must lie in ${minOpen ? "(" : "["}${min}, ${max}${maxOpen ? ")" : "]"}`
    : min !== undefined
    ? `must be ${minOpen ? ">" : "≥"} ${min}`
    : max !== undefined
    ? `must be ${maxOpen ? "<" : "≤"} ${max}`
    : undefined;
  const below = (n: number) => min !== undefined && (minOpen ? !(n > min) : n < min);
  const above = (n: number) => max !== undefined && (maxOpen ? !(n < max) : n > max);
  return {
    expects: range === undefined
      ? "a finite number"
      : `a number ${range.replace(/^must (be|lie) /, "")}`,
    read(value, path) {
      if (typeof value !== "number" || !Number.isFinite(value)) {
        fail(path, "invalid_type", "must be a finite number", value);
      }
      if (range !== undefined && (below(value) || above(value))) {
        fail(path, "out_of_range", range, value);
      }
      return value;
    },
    fromText: asNumber,
  };
}

/**
 * A non-empty string; with `pattern`, one that matches it (`means` says what
 * the pattern asks for, e.g. "a plain file name").
 *
 * @example
 * ```ts
 * import { string } from "./readers.ts";
 * string({ pattern: /^[\w.-]+$/, means: "a plain file name" }).read("run-1", "name"); // "run-1"
 * ```
 */
export function string(rule: { pattern?: RegExp; means?: string } = {}): Field<string> {
  const expects = rule.means ?? "a non-empty string";
  return {
    expects,
    read(value, path) {
      if (typeof value !== "string" || value === "") {
        fail(path, "invalid_type", "must be a non-empty string", value);
      }
      if (rule.pattern !== undefined && !rule.pattern.test(value)) {
        fail(path, "invalid_value", `must be ${expects}`, value);
      }
      return value;
    },
    fromText: asText,
  };
}

/**
 * An absolute URL, as a string.
 *
 * @example
 * ```ts
 * import { url } from "./readers.ts";
 * url().read("http://127.0.0.1:9000/score", "reward[0].url");
 * ```
 */
export function url(): Field<string> {
  const text = string();
  return {
    expects: "a URL",
    read(value, path) {
      const s = text.read(value, path);
      if (!URL.canParse(s)) fail(path, "invalid_value", "must be a URL", value);
      return s;
    },
    fromText: asText,
  };
}

/**
 * `true` or `false` (a flag's text `"true"` or `"false"`).
 *
 * @example
 * ```ts
 * import { boolean } from "./readers.ts";
 * boolean().read(false, "advantage.sum"); // false
 * ```
 */
export function boolean(): Field<boolean> {
  return {
    expects: "true or false",
    read(value, path) {
      if (typeof value !== "boolean") fail(path, "invalid_type", "must be true or false", value);
      return value;
    },
    fromText: (text) => text === "true" ? true : text === "false" ? false : text,
  };
}

/**
 * One of the listed strings.
 *
 * @example
 * ```ts
 * import { oneOf } from "./readers.ts";
 * oneOf(["mean", "sum"] as const).read("sum", "objective.reduction"); // "sum"
 * ```
 */
export function oneOf<T extends string>(options: readonly T[]): Field<T> {
  const expects = `one of ${options.map((o) => `"${o}"`).join(", ")}`;
  return {
    expects,
    read(value, path) {
      if (typeof value !== "string" || !options.includes(value as T)) {
        fail(path, "invalid_value", `must be ${expects}`, value);
      }
      return value as T;
    },
    fromText: asText,
  };
}

/**
 * An array of `element`s (a flag's text: comma-separated), each read at
 * `path[i]`; `length` or `min` bound its length, and `says` is the rule a
 * wrong length breaks (`must list at least one term`).
 *
 * @example
 * ```ts
 * import { integer, list } from "./readers.ts";
 * list(integer({ min: 1 }), { min: 1, says: "must list at least one K" }).read([1, 2], "eval.steps");
 * ```
 */
export function list<T>(
  element: Field<T>,
  size: { length?: number; min?: number; says?: string } = {},
): ListField<T> {
  const says = size.says ??
    (size.length !== undefined
      ? `must hold ${size.length} values`
      : `must list at least ${size.min ?? 0}`);
  return {
    element,
    expects: `an array, each ${element.expects}`,
    read(value, path) {
      if (!Array.isArray(value)) fail(path, "invalid_type", "must be an array", value);
      const wrong = size.length !== undefined
        ? value.length !== size.length
        : value.length < (size.min ?? 0);
      if (wrong) throw new FieldError(path, "out_of_range", `${path} ${says}`);
      return value.map((item, i) => element.read(item, `${path}[${i}]`));
    },
    fromText: (text) => text.split(",").map((part) => element.fromText(part)),
  };
}

/** A list's reader, which also exposes its elements' reader. */
export interface ListField<T> extends Field<T[]> {
  /** Reads each element. */
  readonly element: Field<T>;
}

/**
 * Two values (e.g. Adam's betas).
 *
 * @example
 * ```ts
 * import { number, pair } from "./readers.ts";
 * pair(number()).read([0.9, 0.999], "optimizer.betas"); // [0.9, 0.999]
 * ```
 */
export function pair<T>(element: Field<T>, says = "must hold two values"): Field<readonly [T, T]> {
  const two = list(element, { length: 2, says });
  return {
    expects: `two values, each ${element.expects}`,
    read: (value, path) => two.read(value, path) as unknown as [T, T],
    fromText: two.fromText,
  };
}

/**
 * A plain object, or a {@link FieldError} (`invalid_type`).
 *
 * @example
 * ```ts
 * import { plainObject } from "./readers.ts";
 * plainObject({ a: 1 }, "body"); // { a: 1 }
 * ```
 */
export function plainObject(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(path, "invalid_type", "must be an object", value);
  }
  return value as Record<string, unknown>;
}
