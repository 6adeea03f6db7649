/**
 * Declared fields: each field of a configuration, request body or flag set is
 * written once, with its type (a reader from `./readers.ts`), default and
 * doc; the value type, the defaults and the known keys derive from that
 * declaration (as transformers.js' `GenerationConfig` keeps each field, its
 * default and its doc together).
 *
 * @example
 * ```ts
 * import { defaults, fields, section, type TypeOf } from "./fields.ts";
 * import { integer } from "./readers.ts";
 * const RUN = fields({
 *   iterations: { type: integer({ min: 1 }), default: 100, doc: "Iterations to run." },
 * });
 * type Run = TypeOf<typeof RUN>; // { readonly iterations: number }
 * const run: Run = section(RUN).read({ iterations: 5 }, "train");
 * defaults(RUN); // { iterations: 100 }
 * ```
 *
 * @module
 */

import { type Field, FieldError, fromJsonText, oneOf, plainObject } from "./readers.ts";

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
 * import { fields } from "./fields.ts";
 * import { number } from "./readers.ts";
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
 * import { defaults, fields } from "./fields.ts";
 * import { integer } from "./readers.ts";
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
 * import { fields, knownKeys } from "./fields.ts";
 * import { string } from "./readers.ts";
 * knownKeys(fields({ url: { type: string(), doc: "Where." } })); // ["url"]
 * ```
 */
export function knownKeys(schema: Schema): string[] {
  return Object.keys(schema);
}

/**
 * One line per declared field, nested sections, list elements and union
 * variants included: its path, what it must be, its default and its doc
 * (for `--help`).
 *
 * @example
 * ```ts
 * import { fieldDocs, fields } from "./fields.ts";
 * import { integer } from "./readers.ts";
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
 * import { fields, section } from "./fields.ts";
 * import { integer } from "./readers.ts";
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
      const o = value === undefined ? {} : plainObject(value, where);
      onlyKnown(o, path === "" ? options.label ?? "" : path, keys);
      const out = readFields(schema, o, path);
      options.check?.(out, path);
      return out;
    },
    fromText: fromJsonText,
  };
}

/**
 * An object whose fields are all optional and kept in the order given (e.g.
 * architecture overrides); unknown keys are refused.
 *
 * @example
 * ```ts
 * import { fields, partial } from "./fields.ts";
 * import { integer } from "./readers.ts";
 * const ARCH = fields({ depth: { type: integer({ min: 1 }), doc: "Blocks." } });
 * partial(ARCH).read({ depth: 2 }, "model.overrides"); // { depth: 2 }
 * ```
 */
export function partial<S extends Schema>(schema: S): Field<Partial<TypeOf<S>>> {
  const keys = knownKeys(schema);
  return {
    expects: "an object",
    read(value, path) {
      const o = value === undefined ? {} : plainObject(value, path);
      onlyKnown(o, path, keys);
      return Object.fromEntries(
        Object.entries(o).map(([key, v]) => [key, schema[key].type.read(v, join(path, key))]),
      ) as Partial<TypeOf<S>>;
    },
    fromText: fromJsonText,
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
 * import { fields, union } from "./fields.ts";
 * import { number } from "./readers.ts";
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
      const o = plainObject(value, path);
      const kind = tags.read(o[tag], join(path, tag));
      const schema = variants[kind];
      onlyKnown(o, path, [tag, ...knownKeys(schema)]);
      return { [tag]: kind, ...readFields(schema, o, path) } as UnionOf<Tag, V>;
    },
    fromText: fromJsonText,
  };
}
