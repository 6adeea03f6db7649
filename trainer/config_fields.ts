/**
 * JSON field readers for configuration validators: each checks one value and
 * throws a {@link ConfigError} whose message starts with the field's path.
 *
 * @module
 */

/** A configuration file could not be used; the message names the field. */
export class ConfigError extends Error {
  /**
   * @param message what is wrong, starting with the field's path
   */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Parsed JSON object. */
export type Json = Record<string, unknown>;

/** The object at `root[key]`, or `{}` when absent. */
export function section(root: Json, key: string): Json {
  return root[key] === undefined ? {} : object(root[key], key);
}

/** A plain JSON object. */
export function object(value: unknown, where: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(`${where} must be an object, got ${describe(value)}`);
  }
  return value as Json;
}

/** Rejects keys outside `keys`, naming the first unknown one. */
export function known(value: Json, where: string, keys: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new ConfigError(`${where}.${key} is not a known field (known: ${keys.join(", ")})`);
    }
  }
}

/** A JSON array. */
export function array(value: unknown, where: string): readonly unknown[] {
  if (!Array.isArray(value)) {
    throw new ConfigError(`${where} must be an array, got ${describe(value)}`);
  }
  return value;
}

/** A non-empty string. */
export function string(value: unknown, where: string): string {
  if (typeof value !== "string" || value === "") {
    throw new ConfigError(`${where} must be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

/** `true` or `false`. */
export function boolean(value: unknown, where: string): boolean {
  if (typeof value !== "boolean") {
    throw new ConfigError(`${where} must be true or false, got ${describe(value)}`);
  }
  return value;
}

/** A finite number. */
export function number(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ConfigError(`${where} must be a finite number, got ${describe(value)}`);
  }
  return value;
}

/** A finite number > 0. */
export function positive(value: unknown, where: string): number {
  const n = number(value, where);
  if (!(n > 0)) throw new ConfigError(`${where} must be > 0, got ${n}`);
  return n;
}

/** A finite number ≥ 0. */
export function nonNegative(value: unknown, where: string): number {
  const n = number(value, where);
  if (n < 0) throw new ConfigError(`${where} must be ≥ 0, got ${n}`);
  return n;
}

/** A safe integer ≥ `min`. */
export function integer(value: unknown, where: string, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(`${where} must be an integer ≥ ${min}, got ${describe(value)}`);
  }
  return value;
}

/** One of the listed strings. */
export function oneOf<T extends string>(value: unknown, where: string, options: readonly T[]): T {
  if (typeof value !== "string" || !options.includes(value as T)) {
    throw new ConfigError(
      `${where} must be one of ${options.map((o) => `"${o}"`).join(", ")}, got ${describe(value)}`,
    );
  }
  return value as T;
}

/** A value as shown in messages (`nothing` for undefined). */
export function describe(value: unknown): string {
  return value === undefined ? "nothing" : JSON.stringify(value);
}
