/**
 * Declared fields: each field of a configuration, request body or flag set is
 * written once, with its type (a reader that checks a value), default and
 * doc; the value type, the defaults and the known keys derive from that
 * declaration (as transformers.js' `GenerationConfig` keeps each field, its
 * default and its doc together).
 *
 * One reader serves every source: a config file's JSON, an HTTP body and a
 * command-line flag (through {@link readFlag}, which turns the flag's text
 * into the JSON value the reader checks). A bad value throws a
 * {@link FieldError} that names the field's path (`rollout.groupSize`,
 * `steering.particles`, `--batches`).
 *
 * @example
 * ```ts
 * import { defaults, fields, integer, readFlag, section, type TypeOf } from "./fields.ts";
 * const RUN = fields({
 *   iterations: { type: integer({ min: 1 }), default: 100, doc: "Iterations to run." },
 * });
 * type Run = TypeOf<typeof RUN>; // { readonly iterations: number }
 * const run: Run = section(RUN).read({ iterations: 5 }, "train");
 * defaults(RUN); // { iterations: 100 }
 * readFlag(integer({ min: 1 }), "5", "--iterations") === run.iterations; // true
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
 * import { FieldError, integer } from "./fields.ts";
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

/** One declared field: its type, its default (absent: required, unless optional) and its doc. */
export interface Declared<T> {
  /** The reader. */
  readonly type: Field<T>;
  /** The value used when the field is absent. */
  readonly default?: T;
  /** Absent stays absent (no default, not required). */
  readonly optional?: boolean;
  /** What the field means. */
  readonly doc: string;
}

/** Declared fields by key, in the order a read value lists them. */
export type Schema = { readonly [key: string]: Declared<unknown> };

/** The value type a declaration reads. */
export type ValueOf<D> = D extends { readonly type: Field<infer T> } ? T : never;

/** The object a schema reads: every field present, optional ones possibly absent. */
export type TypeOf<S extends Schema> =
  & { readonly [K in keyof S as S[K] extends { optional: true } ? never : K]: ValueOf<S[K]> }
  & { readonly [K in keyof S as S[K] extends { optional: true } ? K : never]?: ValueOf<S[K]> };

/** A section's reader, which also exposes its schema (for defaults and known keys). */
export interface SectionField<S extends Schema> extends Field<TypeOf<S>> {
  /** The declared fields. */
  readonly schema: S;
}

/**
 * Declares a schema; the identity, there so literal types (`optional: true`)
 * survive.
 *
 * @example
 * ```ts
 * import { fields, number } from "./fields.ts";
 * const EMA = fields({ decay: { type: number({ min: 0, max: 1 }), default: 0.9, doc: "Decay." } });
 * ```
 */
export function fields<S extends Schema>(schema: S): S {
  return schema;
}

/**
 * The defaults a schema declares, sections' nested (a union's per variant).
 *
 * @example
 * ```ts
 * import { defaults, fields, integer } from "./fields.ts";
 * defaults(fields({ k: { type: integer({ min: 1 }), default: 8, doc: "K." } })); // { k: 8 }
 * ```
 */
export function defaults(schema: Schema): Readonly<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [key, declared] of Object.entries(schema)) {
    const type = declared.type as Partial<SectionField<Schema> & UnionField<string, Variants>>;
    if (declared.default !== undefined) out[key] = declared.default;
    else if (type.schema !== undefined) out[key] = defaults(type.schema);
    else if (type.variants !== undefined) {
      out[key] = Object.fromEntries(
        Object.entries(type.variants).map(([kind, variant]) => [kind, defaults(variant)]),
      );
    }
  }
  return Object.freeze(out);
}

/**
 * The keys a schema knows, in declaration order.
 *
 * @example
 * ```ts
 * import { fields, knownKeys, string } from "./fields.ts";
 * knownKeys(fields({ url: { type: string(), doc: "Where." } })); // ["url"]
 * ```
 */
export function knownKeys(schema: Schema): string[] {
  return Object.keys(schema);
}

/**
 * Reads a command-line flag's text with a field's reader; a bad value is a
 * {@link UsageError} that restates the rule for the flag (`--queue must be
 * an integer ≥ 0, got lots`); an absent flag (`undefined`) reads as `undefined`.
 *
 * @example
 * ```ts
 * import { integer, readFlag } from "./fields.ts";
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

/**
 * One line per declared field, nested sections, list elements and union
 * variants included: its path, what it must be, its default and its doc
 * (for `--help`).
 *
 * @example
 * ```ts
 * import { fieldDocs, fields, integer } from "./fields.ts";
 * fieldDocs(fields({ k: { type: integer({ min: 1 }), default: 8, doc: "Steps." } }));
 * // ["k: an integer ≥ 1, default 8. Steps."]
 * ```
 */
export function fieldDocs(schema: Schema, path = ""): string[] {
  const lines: string[] = [];
  for (const [key, declared] of Object.entries(schema)) {
    const where = join(path, key);
    const given = declared.default !== undefined
      ? `, default ${JSON.stringify(declared.default)}`
      : declared.optional
      ? ", optional"
      : "";
    lines.push(`${where}: ${declared.type.expects}${given}. ${declared.doc}`);
    lines.push(...nestedDocs(declared.type, where));
  }
  return lines;
}

/** The lines of what a field holds: a section's fields, a list's element, a union's variants. */
function nestedDocs(type: Field<unknown>, path: string): string[] {
  const nested = type as Partial<SectionField<Schema> & UnionField<string, Variants>> & {
    element?: Field<unknown>;
  };
  if (nested.schema !== undefined) return fieldDocs(nested.schema, path);
  if (nested.element !== undefined) return nestedDocs(nested.element, `${path}[]`);
  if (nested.variants === undefined) return [];
  const docs: Readonly<Record<string, string | undefined>> = nested.docs ?? {};
  return Object.entries(nested.variants).flatMap(([tag, variant]) => [
    ...(docs[tag] === undefined ? [] : [`${path}<${tag}>: ${docs[tag]}`]),
    ...fieldDocs(variant, `${path}<${tag}>`),
  ]);
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
/** JSON text as its value; other text as itself, for the reader to refuse. */
const asJson = (text: string): unknown => {
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
 * import { integer } from "./fields.ts";
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
 * import { number } from "./fields.ts";
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
 * import { string } from "./fields.ts";
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
 * import { url } from "./fields.ts";
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
 * import { boolean } from "./fields.ts";
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
 * import { oneOf } from "./fields.ts";
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
 * import { integer, list } from "./fields.ts";
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
 * import { number, pair } from "./fields.ts";
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

/** A plain object, or a {@link FieldError} (`invalid_type`). */
function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(path, "invalid_type", "must be an object", value);
  }
  return value as Record<string, unknown>;
}

/** Rejects keys outside `keys`, naming the first unknown one (`unknown_field`). */
function onlyKnown(value: Record<string, unknown>, path: string, keys: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new FieldError(
        join(path, key),
        "unknown_field",
        `${join(path, key)} is not a known field (known: ${keys.join(", ")})`,
      );
    }
  }
}

/** A child's path: `rollout` + `prompts` → `rollout.prompts`; at the root, the key. */
function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** Reads each declared field of `object` in declaration order. */
function readFields<S extends Schema>(
  schema: S,
  object: Record<string, unknown>,
  path: string,
): TypeOf<S> {
  const out: Record<string, unknown> = {};
  for (const [key, declared] of Object.entries(schema)) {
    const value = object[key] ?? declared.default;
    if (value === undefined && declared.optional) continue;
    out[key] = declared.type.read(value, join(path, key));
  }
  return out as TypeOf<S>;
}

/**
 * An object of declared fields: unknown keys are refused, absent ones take
 * their default, and absent as a whole it is all defaults. `check` then
 * tests rules that span fields. At the root (path ""), `label` names the
 * object in messages about it as a whole.
 *
 * @example
 * ```ts
 * import { fields, integer, section } from "./fields.ts";
 * const EMA = fields({ every: { type: integer({ min: 1 }), default: 8, doc: "Steps." } });
 * section(EMA).read(undefined, "ema"); // { every: 8 }
 * ```
 */
export function section<S extends Schema>(
  schema: S,
  options: { check?: (value: TypeOf<S>, path: string) => void; label?: string } = {},
): SectionField<S> {
  const keys = knownKeys(schema);
  return {
    schema,
    expects: "an object",
    read(value, path) {
      const where = path === "" ? options.label ?? "the input" : path;
      const o = value === undefined ? {} : object(value, where);
      onlyKnown(o, path === "" ? options.label ?? "" : path, keys);
      const out = readFields(schema, o, path);
      options.check?.(out, path);
      return out;
    },
    fromText: asJson,
  };
}

/**
 * An object whose fields are all optional and kept in the order given (e.g.
 * architecture overrides); unknown keys are refused.
 *
 * @example
 * ```ts
 * import { fields, integer, partial } from "./fields.ts";
 * const ARCH = fields({ depth: { type: integer({ min: 1 }), doc: "Blocks." } });
 * partial(ARCH).read({ depth: 2 }, "model.overrides"); // { depth: 2 }
 * ```
 */
export function partial<S extends Schema>(schema: S): Field<Partial<TypeOf<S>>> {
  const keys = knownKeys(schema);
  return {
    expects: "an object",
    read(value, path) {
      const o = value === undefined ? {} : object(value, path);
      onlyKnown(o, path, keys);
      return Object.fromEntries(
        Object.entries(o).map(([key, v]) => [key, schema[key].type.read(v, join(path, key))]),
      ) as Partial<TypeOf<S>>;
    },
    fromText: asJson,
  };
}

/** The variants of a tagged union: each tag's fields. */
export type Variants = { readonly [tag: string]: Schema };

/** A tagged union's value: the tag and that variant's fields. */
export type UnionOf<Tag extends string, V extends Variants> = {
  [K in keyof V & string]: { readonly [T in Tag]: K } & TypeOf<V[K]>;
}[keyof V & string];

/** A tagged union's reader, which also exposes its variants. */
export interface UnionField<Tag extends string, V extends Variants> extends Field<UnionOf<Tag, V>> {
  /** Each tag's fields. */
  readonly variants: V;
  /** What each tag means, where given. */
  readonly docs: { readonly [K in keyof V]?: string };
}

/**
 * An object tagged by `tag` (e.g. `kind`): the tag picks the variant whose
 * fields are read; the tag comes first in the value. `docs` says what each
 * tag means (for {@link fieldDocs}).
 *
 * @example
 * ```ts
 * import { fields, number, union } from "./fields.ts";
 * const ANCHOR = union("kind", {
 *   endpoint: fields({ eta: { type: number({ min: 0, max: 1, open: "min" }), default: 1, doc: "η." } }),
 * });
 * ANCHOR.read({ kind: "endpoint" }, "rollout.anchor"); // { kind: "endpoint", eta: 1 }
 * ```
 */
export function union<Tag extends string, V extends Variants>(
  tag: Tag,
  variants: V,
  docs: { readonly [K in keyof V]?: string } = {},
): UnionField<Tag, V> {
  const tags = oneOf(Object.keys(variants));
  return {
    variants,
    docs,
    expects: `an object with ${tag} ${tags.expects}`,
    read(value, path) {
      const o = object(value, path);
      const kind = tags.read(o[tag], join(path, tag));
      const schema = variants[kind];
      onlyKnown(o, path, [tag, ...knownKeys(schema)]);
      return { [tag]: kind, ...readFields(schema, o, path) } as UnionOf<Tag, V>;
    },
    fromText: asJson,
  };
}
