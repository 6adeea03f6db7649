/**
 * Validation of generation request bodies. Every field is checked for type
 * and range before any work is queued; the first problem becomes a 400 (or
 * 404 for a model that is not served) `ApiError` naming the field.
 *
 * Unknown fields are rejected (`unknown_field`), not ignored: a misspelt
 * `seeed` or an unsupported OpenAI option such as `quality` would otherwise
 * silently produce an image the client did not ask for.
 *
 * @module
 */

import {
  type FlowMapKind,
  type ImageFormat,
  MAX_PARTICLES,
  NAMED_REWARDS,
  STEERING_METHODS,
  type SteeringMethod,
  steeringNfe,
  type Tokenizer,
} from "../mod.ts";
import { type Field, FieldError, integer, number, oneOf } from "../cli/readers.ts";
import { ADAPTER_NAME } from "./adapters.ts";
import { ApiError } from "./errors.ts";

/** Bounds on request fields. */
export interface RequestLimits {
  /** Longest prompt, in characters (default 256). */
  readonly maxPromptChars: number;
  /** Most sampling steps (default 8); the least is 1. */
  readonly maxSteps: number;
  /** Most images per request (default 8). */
  readonly maxImages: number;
  /** Most adapters merged for one request (default 4). */
  readonly maxAdapters: number;
  /** Largest adapter scale magnitude (default 4). */
  readonly maxAdapterScale: number;
  /** Most network evaluations one request may spend, all images together (default 256). */
  readonly maxRequestNfe: number;
}

/** The default {@linkcode RequestLimits}. */
export const DEFAULT_REQUEST_LIMITS: RequestLimits = Object.freeze({
  maxPromptChars: 256,
  maxSteps: 8,
  maxImages: 8,
  maxAdapters: 4,
  maxAdapterScale: 4,
  maxRequestNfe: 256,
});

/** What requests are checked against: limits and what the served model supports. */
export interface ValidationRules {
  /** Field bounds. */
  readonly limits: RequestLimits;
  /** The id clients may name in `model`. */
  readonly modelId: string;
  /** The one image size the model generates, `"<width>x<height>"`. */
  readonly size: string;
  /** The model's prompt tokenizer (unknown words and long prompts are refused). */
  readonly tokenizer: Tokenizer;
  /** Draws the seed of a request that gives none. */
  readonly randomSeed: () => number;
  /** The served map's kind and default step count (for NFE budgets; default two-time, 2). */
  readonly flowMap?: { readonly kind: FlowMapKind; readonly defaultSteps: number };
}

/** Reward steering of a request: a named server-side reward. */
export interface SteeringRequest {
  /** A name from the SDK's `NAMED_REWARDS`. */
  readonly reward: string;
  /** "best-of-n" or "posterior". */
  readonly method: SteeringMethod;
  /** Candidates or posterior samples per step. */
  readonly particles: number;
  /** Posterior only: lambda. */
  readonly strength?: number;
}

/** An adapter to merge for a request, and its scale. */
export interface AdapterChoice {
  /** The adapter's name in the store. */
  readonly name: string;
  /** Multiplier of its update (default 1). */
  readonly scale: number;
}

/** A validated generation request. */
export interface GenerationRequest {
  /** The prompt of every image. */
  readonly prompt: string;
  /** Number of images. */
  readonly n: number;
  /** Sampling steps; `undefined` is the model's default grid. */
  readonly steps: number | undefined;
  /** Seed of the first image; image `i` uses `seed + i`. */
  readonly seed: number;
  /** Adapters to merge, sorted by name (the canonical order). */
  readonly adapters: readonly AdapterChoice[];
  /** Encoding of the images; `undefined` leaves it to content negotiation. */
  readonly format: ImageFormat | undefined;
  /** Reward steering (`/v1/images/generations` only). */
  readonly steering?: SteeringRequest;
}

const IMAGES_FIELDS = [
  "prompt",
  "n",
  "size",
  "response_format",
  "output_format",
  "model",
  "seed",
  "steps",
  "adapter",
  "steering",
] as const;
const STEERING_FIELDS = ["reward", "method", "particles", "strength"] as const;
const GENERATE_FIELDS = ["prompt", "seed", "steps", "adapter", "format"] as const;
const FORMATS: readonly ImageFormat[] = ["png", "webp"];

/**
 * Validates a `POST /v1/images/generations` body (OpenAI's subset: `prompt`,
 * `n`, `size`, `response_format: "b64_json"`, `output_format`, `model`; plus
 * `seed`, `steps`, `adapter`).
 *
 * @example
 * ```ts ignore
 * const request = parseImagesRequest({ prompt: "two red circles", n: 2, seed: 7 }, rules);
 * ```
 */
export function parseImagesRequest(
  body: unknown,
  rules: ValidationRules,
): GenerationRequest & { readonly format: ImageFormat } {
  const fields = objectOf(body, IMAGES_FIELDS);
  const size = optional(fields, "size", isString, 'a string such as "32x32"');
  if (size !== undefined && size !== rules.size) {
    throw invalid(
      "unsupported_size",
      `size ${quote(size)} is not supported; the model generates ${rules.size}`,
      "size",
    );
  }
  const responseFormat = optional(fields, "response_format", isString, "a string");
  if (responseFormat !== undefined && responseFormat !== "b64_json") {
    const why = responseFormat === "url"
      ? 'this server does not host images; use "b64_json"'
      : 'the only response_format is "b64_json"';
    throw invalid(
      "unsupported_response_format",
      `response_format ${quote(responseFormat)}: ${why}`,
      "response_format",
    );
  }
  const model = optional(fields, "model", isString, "a string");
  if (model !== undefined && model !== rules.modelId) {
    throw new ApiError(
      404,
      "model_not_found",
      `model ${quote(model)} is not served here; this server serves ${quote(rules.modelId)}`,
      { param: "model" },
    );
  }
  const n = integerField(fields, "n", 1, rules.limits.maxImages) ?? 1;
  const common = commonFields(fields, rules, n);
  const steering = fields.steering === undefined ? undefined : steeringField(fields.steering);
  const map = rules.flowMap ?? { kind: "two-time", defaultSteps: 2 };
  const steps = common.steps ?? map.defaultSteps;
  const nfe = n * (steering ? steeringNfe(map.kind, steps, steering) : steps);
  if (nfe > rules.limits.maxRequestNfe) {
    throw invalid(
      "nfe_budget_exceeded",
      `this request needs ${nfe} network evaluations (n × per-image cost); ` +
        `the budget is ${rules.limits.maxRequestNfe}: lower n, steps or steering.particles`,
      steering ? "steering.particles" : "steps",
    );
  }
  return {
    ...common,
    n,
    format: formatField(fields, "output_format") ?? "png",
    ...(steering ? { steering } : {}),
  };
}

function steeringField(value: unknown): SteeringRequest {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw wrongType("steering", "an object { reward, method, particles }", value);
  }
  const unknown = Object.keys(value).filter((key) =>
    !(STEERING_FIELDS as readonly string[]).includes(key)
  );
  if (unknown.length > 0) {
    throw invalid(
      "unknown_field",
      `unknown field steering.${unknown[0]}`,
      `steering.${unknown[0]}`,
    );
  }
  const fields = value as Fields;
  const reward = fields.reward;
  if (!isString(reward)) throw wrongType("steering.reward", "a reward name", reward);
  if (!Object.hasOwn(NAMED_REWARDS, reward)) {
    throw invalid(
      "unknown_reward",
      `steering.reward ${quote(reward)} is not served; known: ${
        Object.keys(NAMED_REWARDS).join(", ")
      }`,
      "steering.reward",
    );
  }
  const method = read(oneOf(STEERING_METHODS), fields.method ?? "best-of-n", "steering.method");
  const particles = integerField(fields, "particles", 1, MAX_PARTICLES, "steering.particles");
  if (particles === undefined) {
    throw invalid("missing_field", "steering.particles is required", "steering.particles");
  }
  const strength = fields.strength;
  if (strength !== undefined) {
    if (typeof strength !== "number" || !Number.isFinite(strength) || method !== "posterior") {
      throw invalid(
        "invalid_value",
        'steering.strength must be a finite number, with method "posterior"',
        "steering.strength",
      );
    }
  }
  return { reward, method, particles, strength };
}

/**
 * Validates a `POST /v1/generate` body (`prompt`, `seed`, `steps`, `adapter`,
 * `format`): one image, returned as the response body.
 */
export function parseGenerateRequest(body: unknown, rules: ValidationRules): GenerationRequest {
  const fields = objectOf(body, GENERATE_FIELDS);
  return { ...commonFields(fields, rules, 1), n: 1, format: formatField(fields, "format") };
}

/**
 * Checks an adapter name from a URL or a body: the strict character set of
 * {@linkcode ADAPTER_NAME} keeps names from ever being paths.
 */
export function adapterName(value: string, param: string): string {
  if (!ADAPTER_NAME.test(value)) {
    throw invalid(
      "invalid_adapter_name",
      `adapter name ${
        quote(value)
      } is invalid: use 1–64 of a-z, 0-9, "_" and "-", starting with a letter or digit`,
      param,
    );
  }
  return value;
}

type Fields = Readonly<Record<string, unknown>>;

function commonFields(fields: Fields, rules: ValidationRules, n: number) {
  const prompt = fields.prompt;
  if (prompt === undefined) throw invalid("missing_field", "prompt is required", "prompt");
  if (!isString(prompt)) throw wrongType("prompt", "a string", prompt);
  const max = rules.limits.maxPromptChars;
  if (prompt.length < 1 || prompt.length > max) {
    throw invalid(
      "out_of_range",
      `prompt must have 1 to ${max} characters, got ${prompt.length}`,
      "prompt",
    );
  }
  try {
    rules.tokenizer.encode(prompt);
  } catch (error) {
    throw invalid("invalid_prompt", (error as Error).message, "prompt");
  }
  const steps = integerField(fields, "steps", 1, rules.limits.maxSteps);
  const seed = integerField(fields, "seed", 0, Number.MAX_SAFE_INTEGER - (n - 1)) ??
    rules.randomSeed();
  return { prompt, steps, seed, adapters: adapterField(fields, rules.limits) };
}

function objectOf(body: unknown, allowed: readonly string[]): Fields {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid("invalid_body", `the request body must be a JSON object, got ${kindOf(body)}`);
  }
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw invalid(
      "unknown_field",
      `unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map(quote).join(", ")}; ` +
        `this endpoint takes ${allowed.join(", ")}`,
      unknown[0],
    );
  }
  return body as Fields;
}

function integerField(
  fields: Fields,
  field: string,
  min: number,
  max: number,
  param = field,
): number | undefined {
  const value = fields[field];
  return value === undefined ? undefined : read(integer({ min, max }), value, param);
}

/** Reads a value with a shared field reader; its error becomes a 400 with the same code. */
function read<T>(type: Field<T>, value: unknown, param: string): T {
  try {
    return type.read(value, param);
  } catch (error) {
    if (error instanceof FieldError) throw invalid(error.problem, error.message, error.path);
    throw error;
  }
}

function formatField(fields: Fields, param: string): ImageFormat | undefined {
  const format = optional(fields, param, isString, "a string");
  if (format !== undefined && !FORMATS.includes(format as ImageFormat)) {
    throw invalid(
      "unsupported_format",
      `${param} must be "png" or "webp", got ${quote(format)}`,
      param,
    );
  }
  return format as ImageFormat | undefined;
}

function adapterField(fields: Fields, limits: RequestLimits): AdapterChoice[] {
  const value = fields.adapter;
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  if (list.length > limits.maxAdapters) {
    throw invalid(
      "out_of_range",
      `at most ${limits.maxAdapters} adapters per request, got ${list.length}`,
      "adapter",
    );
  }
  const choices = list.map((item, i) =>
    adapterChoice(item, limits, Array.isArray(value) ? `adapter[${i}]` : "adapter")
  );
  const names = choices.map((choice) => choice.name);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated !== undefined) {
    throw invalid("duplicate_adapter", `adapter ${quote(repeated)} is listed twice`, "adapter");
  }
  return choices.sort((a, b) => (a.name < b.name ? -1 : 1));
}

function adapterChoice(item: unknown, limits: RequestLimits, param: string): AdapterChoice {
  if (isString(item)) return { name: adapterName(item, param), scale: 1 };
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    throw wrongType(param, "an adapter name or { name, scale }", item);
  }
  const fields = objectOf(item, ["name", "scale"]);
  if (!isString(fields.name)) throw wrongType(`${param}.name`, "a string", fields.name);
  const max = limits.maxAdapterScale;
  const scale = read(number({ min: -max, max }), fields.scale ?? 1, `${param}.scale`);
  return { name: adapterName(fields.name, `${param}.name`), scale };
}

function optional<T>(
  fields: Fields,
  param: string,
  is: (value: unknown) => value is T,
  expected: string,
): T | undefined {
  const value = fields[param];
  if (value === undefined) return undefined;
  if (!is(value)) throw wrongType(param, expected, value);
  return value;
}

function invalid(code: string, message: string, param?: string): ApiError {
  return new ApiError(400, code, message, { param });
}

function wrongType(param: string, expected: string, value: unknown): ApiError {
  return invalid("invalid_type", `${param} must be ${expected}, got ${kindOf(value)}`, param);
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" && !Number.isInteger(value)) return `the number ${value}`;
  return typeof value === "object"
    ? "an object"
    : `${typeof value} ${quote(String(value)).slice(0, 40)}`;
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}
