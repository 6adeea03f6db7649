/**
 * The prompt grammar of the shapes world, its six GenEval-like categories,
 * and a parser from prompt text to a structured spec.
 *
 *     prompt   := phrase | phrase "and" phrase | phrase relation phrase
 *     phrase   := "a" [colour] shape | ("two" | "three" | "four") shape "s"
 *     relation := "left of" | "right of" | "above" | "below"
 *
 * | category      | example                               |
 * | ------------- | ------------------------------------- |
 * | single_object | a circle                              |
 * | two_object    | a circle and a square                 |
 * | counting      | three triangles                       |
 * | colors        | a red circle                          |
 * | position      | a green triangle above a yellow circle |
 * | color_attr    | a red square and a blue circle        |
 *
 * @module
 */

import { shapesTokenizer } from "../text.ts";
import {
  type Color,
  COLORS,
  COUNT_WORDS,
  plural,
  type Relation,
  RELATIONS,
  type Shape,
  SHAPES,
} from "./world.ts";

/** The six prompt categories, named as in GenEval. */
export const CATEGORIES = [
  "single_object",
  "two_object",
  "counting",
  "colors",
  "position",
  "color_attr",
] as const;
/** One of {@link CATEGORIES}. */
export type Category = typeof CATEGORIES[number];

/** `count` objects of one shape, of one colour when `color` is given (any colours otherwise). */
export interface ObjectGroup {
  /** The shape. */
  readonly shape: Shape;
  /** The colour, when the prompt names it. */
  readonly color?: Color;
  /** How many, 1–4. */
  readonly count: number;
}

/** A parsed prompt. */
export interface PromptSpec {
  /** The normalised prompt text (lower case, single spaces). */
  readonly prompt: string;
  /** Its category. */
  readonly category: Category;
  /** One group, or two for two_object, position and color_attr (each of count 1). */
  readonly groups: readonly ObjectGroup[];
  /** For position prompts: `groups[0]` is `relation` `groups[1]`. */
  readonly relation?: Relation;
}

/** A prompt outside the grammar. */
export class PromptError extends Error {
  /** Creates the error with its message. */
  constructor(message: string) {
    super(message);
    this.name = "PromptError";
  }
}

/**
 * Parses a prompt of the grammar into its spec.
 *
 * @example
 * ```ts
 * import { parsePrompt } from "./prompts.ts";
 * const spec = parsePrompt("a green triangle above a yellow circle");
 * spec.category; // "position"
 * spec.groups; // [{shape: "triangle", color: "green", count: 1}, {shape: "circle", color: "yellow", count: 1}]
 * spec.relation; // "above"
 * ```
 */
export function parsePrompt(prompt: string): PromptSpec {
  const words = shapesTokenizer.words(prompt);
  const text = words.join(" ");
  const fail = (why: string): never => {
    throw new PromptError(`${JSON.stringify(prompt)} is not a shapes prompt: ${why}`);
  };
  let at = 0;
  const phrase = (): ObjectGroup => {
    const head = words[at++];
    if (head === undefined) return fail("it ends where an object was expected");
    const count = COUNT_WORDS[head];
    if (count === undefined) return fail(`expected a, two, three or four, got "${head}"`);
    let color: Color | undefined;
    if (count === 1 && (COLORS as readonly string[]).includes(words[at])) {
      color = words[at++] as Color;
    }
    const noun = words[at++];
    const shape = SHAPES.find((s) => (count === 1 ? s : plural(s)) === noun);
    if (shape === undefined) {
      return fail(
        `expected ${count === 1 ? "a colour or a shape" : "a plural shape"}, got "${noun ?? ""}"`,
      );
    }
    return color === undefined ? { shape, count } : { shape, color, count };
  };

  const first = phrase();
  if (at === words.length) {
    const category = first.count > 1 ? "counting" : first.color ? "colors" : "single_object";
    return { prompt: text, category, groups: [first] };
  }
  let relation: Relation | undefined;
  if (words[at] === "and") at += 1;
  else {
    const two = `${words[at]} ${words[at + 1]}`;
    relation = RELATIONS.find((r) => r === words[at] || r === two);
    if (relation === undefined) return fail(`expected "and" or a relation, got "${words[at]}"`);
    at += relation.split(" ").length;
  }
  const second = phrase();
  if (at !== words.length) fail(`unexpected "${words.slice(at).join(" ")}" at the end`);
  if (first.count !== 1 || second.count !== 1) fail("two-object prompts name single objects");
  if ((first.color === undefined) !== (second.color === undefined)) {
    fail("either both objects have a colour or neither does");
  }
  if (first.shape === second.shape && first.color === second.color) {
    fail("the two objects must differ");
  }
  if (relation !== undefined) {
    if (first.color === undefined) fail("position prompts name both colours");
    return { prompt: text, category: "position", groups: [first, second], relation };
  }
  return {
    prompt: text,
    category: first.color ? "color_attr" : "two_object",
    groups: [first, second],
  };
}

/**
 * The prompt text of a spec's groups and relation (inverse of {@link parsePrompt}).
 *
 * @example
 * ```ts
 * import { formatPrompt } from "./prompts.ts";
 * formatPrompt([{ shape: "square", count: 3 }]); // "three squares"
 * ```
 */
export function formatPrompt(groups: readonly ObjectGroup[], relation?: Relation): string {
  const phrases = groups.map(formatGroup);
  return phrases.join(relation === undefined ? " and " : ` ${relation} `);
}

function formatGroup(group: ObjectGroup): string {
  if (group.count === 1) {
    return group.color ? `a ${group.color} ${group.shape}` : `a ${group.shape}`;
  }
  const word = Object.keys(COUNT_WORDS).find((w) => COUNT_WORDS[w] === group.count);
  if (word === undefined) throw new PromptError(`no count word for ${group.count}`);
  return `${word} ${plural(group.shape)}`;
}

/**
 * A key equal for prompts that describe the same scenes: "X and Y" equals
 * "Y and X", "X right of Y" equals "Y left of X", "X below Y" equals "Y above X".
 *
 * @example
 * ```ts
 * import { canonicalKey, parsePrompt } from "./prompts.ts";
 * canonicalKey(parsePrompt("a red circle right of a blue square")) ===
 *   canonicalKey(parsePrompt("a blue square left of a red circle")); // true
 * ```
 */
export function canonicalKey(spec: PromptSpec): string {
  const [a, b] = spec.groups.map(formatGroup);
  if (b === undefined) return a;
  switch (spec.relation) {
    case undefined:
      return [a, b].sort().join(" and ");
    case "left of":
    case "above":
      return `${a} ${spec.relation} ${b}`;
    case "right of":
      return `${b} left of ${a}`;
    case "below":
      return `${b} above ${a}`;
  }
}

/**
 * Every prompt of the grammar, in a fixed order (category by category, as in
 * {@link CATEGORIES}): 3 single_object, 6 two_object, 9 counting, 18 colors,
 * 1224 position and 306 color_attr prompts.
 */
export function allPrompts(): string[] {
  const out: string[] = [];
  const bindings = SHAPES.flatMap((shape) => COLORS.map((color) => ({ shape, color, count: 1 })));
  for (const shape of SHAPES) out.push(formatPrompt([{ shape, count: 1 }]));
  for (const a of SHAPES) {
    for (const b of SHAPES) {
      if (a !== b) out.push(formatPrompt([{ shape: a, count: 1 }, { shape: b, count: 1 }]));
    }
  }
  for (const shape of SHAPES) {
    for (const count of [2, 3, 4]) out.push(formatPrompt([{ shape, count }]));
  }
  for (const binding of bindings) out.push(formatPrompt([binding]));
  for (const relation of RELATIONS) {
    for (const a of bindings) {
      for (const b of bindings) if (a !== b) out.push(formatPrompt([a, b], relation));
    }
  }
  for (const a of bindings) for (const b of bindings) if (a !== b) out.push(formatPrompt([a, b]));
  return out;
}
