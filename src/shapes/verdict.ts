/**
 * Verdicts: does an image show what its prompt says? Built from the
 * detections of {@link detectObjects} alone. Each prompt expands to a list of
 * constraints by category:
 *
 * | category      | constraints                                              |
 * | ------------- | -------------------------------------------------------- |
 * | single_object | exactly one S · nothing else                             |
 * | two_object    | exactly one S1 · exactly one S2 · nothing else           |
 * | counting      | exactly N Ss · nothing else                              |
 * | colors        | exactly one S · the S is C · nothing else                |
 * | position      | exactly one C1 S1 · exactly one C2 S2 · relation · nothing else |
 * | color_attr    | exactly one C1 S1 · exactly one C2 S2 · nothing else     |
 *
 * "Nothing else" holds when every detected object, unrecognised blobs
 * included, is claimed by a group — and at least one is, so an empty image
 * earns no credit. A relation holds when the displacement between the two
 * centroids points along it more than across it ("A left of B": B's centroid
 * is further right of A's than it is above or below it). Strict credit is 1
 * when all constraints hold; partial credit is the fraction that hold.
 *
 * @module
 */

import { type DetectedObject, detectObjects, type DetectOptions } from "./detect.ts";
import type { RgbImage } from "./image.ts";
import { type Category, type ObjectGroup, parsePrompt, type PromptSpec } from "./prompts.ts";
import { plural, type Relation } from "./world.ts";

/** One checked requirement of a prompt. */
export interface Constraint {
  /** What is required, e.g. "exactly one red circle". */
  readonly description: string;
  /** Whether the image meets it. */
  readonly satisfied: boolean;
}

/** The evaluator's judgement of one image against one prompt. */
export interface Verdict {
  /** The normalised prompt. */
  readonly prompt: string;
  /** The prompt's category. */
  readonly category: Category;
  /** All constraints hold. */
  readonly strict: boolean;
  /** Fraction of constraints that hold, in `[0, 1]`. */
  readonly partial: number;
  /** The constraints in order. */
  readonly constraints: readonly Constraint[];
  /** What the detector found. */
  readonly objects: readonly DetectedObject[];
}

/**
 * Judges an image against a prompt from its pixels.
 *
 * @example
 * ```ts
 * import { parsePrompt } from "./prompts.ts";
 * import { renderScene } from "./render.ts";
 * import { sampleScene } from "./scene.ts";
 * import { evaluateImage } from "./verdict.ts";
 * const spec = parsePrompt("a red circle left of a blue square");
 * const image = renderScene(sampleScene(spec, 1));
 * evaluateImage(image, spec).strict; // true
 * evaluateImage(image, "a red circle right of a blue square").partial; // 0.75
 * ```
 */
export function evaluateImage(
  image: RgbImage,
  prompt: string | PromptSpec,
  options?: DetectOptions,
): Verdict {
  const spec = typeof prompt === "string" ? parsePrompt(prompt) : prompt;
  return judge(spec, detectObjects(image, options));
}

/** Checks detected objects against a prompt's constraints (the pure part of {@link evaluateImage}). */
export function judge(spec: PromptSpec, objects: readonly DetectedObject[]): Verdict {
  // colour prompts count the shape whatever its colour, then check the colour apart
  const groups: readonly ObjectGroup[] = spec.category === "colors"
    ? spec.groups.map(({ shape, count }) => ({ shape, count }))
    : spec.groups;
  const matches = groups.map((g) =>
    objects.filter((o) => o.shape === g.shape && (g.color === undefined || o.color === g.color))
  );
  const constraints: Constraint[] = groups.map((g, i) => ({
    description: `exactly ${describe(g)}`,
    satisfied: matches[i].length === g.count,
  }));
  if (spec.category === "colors") {
    const [{ shape, color }] = spec.groups;
    constraints.push({
      description: `the ${shape} is ${color}`,
      satisfied: matches[0].length === 1 && matches[0][0].color === color,
    });
  }
  if (spec.relation !== undefined) {
    const [a, b] = matches;
    constraints.push({
      description: `${describe(spec.groups[0])} ${spec.relation} ${describe(spec.groups[1])}`,
      satisfied: a.length === 1 && b.length === 1 && holds(a[0], b[0], spec.relation),
    });
  }
  const claimed = objects.filter((o) => matches.some((m) => m.includes(o))).length;
  constraints.push({
    description: "nothing else",
    satisfied: claimed > 0 && claimed === objects.length,
  });
  const met = constraints.filter((c) => c.satisfied).length;
  return {
    prompt: spec.prompt,
    category: spec.category,
    strict: met === constraints.length,
    partial: met / constraints.length,
    constraints,
    objects,
  };
}

function describe({ shape, color, count }: ObjectGroup): string {
  const noun = count === 1 ? shape : plural(shape);
  const number = ["one", "two", "three", "four"][count - 1];
  return color === undefined ? `${number} ${noun}` : `${number} ${color} ${noun}`;
}

function holds(a: DetectedObject, b: DetectedObject, relation: Relation): boolean {
  const dx = b.x - a.x, dy = b.y - a.y;
  switch (relation) {
    case "left of":
      return dx > Math.abs(dy);
    case "right of":
      return -dx > Math.abs(dy);
    case "above":
      return dy > Math.abs(dx);
    case "below":
      return -dy > Math.abs(dx);
  }
}
