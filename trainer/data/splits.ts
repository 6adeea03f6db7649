/**
 * The fixed, versioned train / held-out evaluation split of the shapes
 * prompts. Evaluation holds combinations that no training prompt contains:
 *
 * - colour–shape bindings: purple circle, yellow square, cyan triangle — every
 *   prompt naming one is held out, and training scenes never paint an
 *   open-colour object in a held-out binding;
 * - single_object: "a triangle";
 * - counting: three circles, four squares, two triangles;
 * - two_object: a square together with a triangle (either order);
 * - position: the layouts circle-left-of-triangle, square-above-circle and
 *   triangle-left-of-square, in either phrasing ("X right of Y" is "Y left of X")
 *   and any colours.
 *
 * Every other prompt of the grammar is for training. The split is a pure
 * function of the grammar and the lists above; {@link SPLIT_VERSION} names it
 * and a test pins its SHA-256 ({@link splitDigest}).
 *
 * @module
 */

import {
  allPrompts,
  canonicalKey,
  parsePrompt,
  type PromptSpec,
} from "../../src/shapes/prompts.ts";
import { type Color, COLORS, type Shape } from "../../src/shapes/world.ts";

/** Version of the split; bump it whenever the held-out lists or the grammar change. */
export const SPLIT_VERSION = "shapes-split-v1";

/** The two splits. */
export type Split = "train" | "eval";

/** Colour–shape bindings that appear only in evaluation prompts. */
export const HELD_OUT_BINDINGS: readonly { readonly shape: Shape; readonly color: Color }[] = Object
  .freeze([
    { shape: "circle", color: "purple" },
    { shape: "square", color: "yellow" },
    { shape: "triangle", color: "cyan" },
  ]);

/** Canonical keys ({@link canonicalKey}) of held-out colour-free prompts. */
const HELD_OUT_KEYS: ReadonlySet<string> = new Set([
  "a triangle",
  "three circles",
  "four squares",
  "two triangles",
  "a square and a triangle",
]);

/** Held-out position layouts as `first relation second` over shapes, in canonical direction. */
const HELD_OUT_LAYOUTS: ReadonlySet<string> = new Set([
  "circle left of triangle",
  "square above circle",
  "triangle left of square",
]);

/**
 * Whether a prompt belongs to the evaluation split.
 *
 * @example
 * ```ts
 * import { parsePrompt } from "../../src/shapes/prompts.ts";
 * import { isHeldOut } from "./splits.ts";
 * isHeldOut(parsePrompt("a purple circle")); // true: held-out binding
 * isHeldOut(parsePrompt("a blue triangle right of a red circle")); // true: held-out layout
 * isHeldOut(parsePrompt("a red circle")); // false
 * ```
 */
export function isHeldOut(spec: PromptSpec): boolean {
  if (spec.groups.some((g) => g.color !== undefined && isHeldOutBinding(g.shape, g.color))) {
    return true;
  }
  if (spec.relation === undefined) return HELD_OUT_KEYS.has(canonicalKey(spec));
  const [a, b] = spec.groups.map((g) => g.shape);
  const layout = spec.relation === "left of" || spec.relation === "above"
    ? `${a} ${spec.relation} ${b}`
    : `${b} ${spec.relation === "right of" ? "left of" : "above"} ${a}`;
  return HELD_OUT_LAYOUTS.has(layout);
}

/** Whether a colour–shape binding is held out of training. */
export function isHeldOutBinding(shape: Shape, color: Color): boolean {
  return HELD_OUT_BINDINGS.some((b) => b.shape === shape && b.color === color);
}

/**
 * Colours a training scene may paint an open-colour object of `shape` in:
 * all but the held-out bindings (pass as `openColors` to `sampleScene`).
 */
export function trainingColors(shape: Shape): readonly Color[] {
  return COLORS.filter((color) => !isHeldOutBinding(shape, color));
}

const cache = new Map<Split, readonly string[]>();

/**
 * The prompts of a split, in the grammar's fixed order ({@link allPrompts}).
 *
 * @example
 * ```ts
 * import { splitPrompts } from "./splits.ts";
 * const train = splitPrompts("train");
 * const evaluation = splitPrompts("eval");
 * ```
 */
export function splitPrompts(split: Split): readonly string[] {
  if (split !== "train" && split !== "eval") {
    throw new RangeError(`split must be "train" or "eval", got ${split}`);
  }
  let prompts = cache.get(split);
  if (prompts === undefined) {
    prompts = Object.freeze(
      allPrompts().filter((p) => isHeldOut(parsePrompt(p)) === (split === "eval")),
    );
    cache.set(split, prompts);
  }
  return prompts;
}

/** Hex SHA-256 of `JSON.stringify({version, train, eval})`: the split's fingerprint for run records. */
export async function splitDigest(): Promise<string> {
  const text = JSON.stringify({
    version: SPLIT_VERSION,
    train: splitPrompts("train"),
    eval: splitPrompts("eval"),
  });
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, "0")).join("");
}
