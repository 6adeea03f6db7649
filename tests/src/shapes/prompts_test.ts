import assert from "node:assert/strict";
import { shapesTokenizer } from "../../../src/text.ts";
import {
  allPrompts,
  canonicalKey,
  CATEGORIES,
  formatPrompt,
  parsePrompt,
  PromptError,
} from "../../../src/shapes/prompts.ts";

Deno.test("the grammar has 1566 prompts in six categories, each parsing back to itself", () => {
  const prompts = allPrompts();
  assert.equal(prompts.length, 1566);
  assert.equal(new Set(prompts).size, prompts.length);
  const counts: Record<string, number> = {};
  for (const prompt of prompts) {
    const spec = parsePrompt(prompt);
    assert.equal(spec.prompt, prompt);
    assert.equal(formatPrompt(spec.groups, spec.relation), prompt);
    assert.equal(shapesTokenizer.decode(shapesTokenizer.encode(prompt)), prompt);
    counts[spec.category] = (counts[spec.category] ?? 0) + 1;
  }
  assert.deepEqual(
    CATEGORIES.map((c) => counts[c]),
    [3, 6, 9, 18, 1224, 306],
  );
});

Deno.test("parsePrompt builds the structured spec of each category", () => {
  assert.deepEqual(parsePrompt("a red circle"), {
    prompt: "a red circle",
    category: "colors",
    groups: [{ shape: "circle", color: "red", count: 1 }],
  });
  assert.deepEqual(parsePrompt("Three  squares").groups, [
    { shape: "square", count: 3 },
  ]);
  assert.equal(parsePrompt("a circle").category, "single_object");
  assert.equal(parsePrompt("a circle and a square").category, "two_object");
  assert.equal(parsePrompt("a red square and a blue circle").category, "color_attr");
  const position = parsePrompt("a green triangle above a yellow circle");
  assert.equal(position.category, "position");
  assert.equal(position.relation, "above");
  assert.deepEqual(position.groups, [
    { shape: "triangle", color: "green", count: 1 },
    { shape: "circle", color: "yellow", count: 1 },
  ]);
  assert.equal(parsePrompt("a red circle right of a blue square").relation, "right of");
});

Deno.test("prompts outside the grammar throw PromptError with the reason", () => {
  const cases: [string, RegExp][] = [
    ["", /ends where an object was expected/],
    ["one circle", /expected a, two, three or four/],
    ["a circles", /expected a colour or a shape/],
    ["two red circles", /expected a plural shape, got "red"/],
    ["a circle or a square", /expected "and" or a relation/],
    ["a circle and a circle", /must differ/],
    ["a red circle and a square", /both objects have a colour/],
    ["a circle left of a square", /position prompts name both colours/],
    ["two circles and a square", /single objects/],
    ["a red circle above a blue square now", /unexpected "now"/],
  ];
  for (const [prompt, reason] of cases) {
    assert.throws(
      () => parsePrompt(prompt),
      (e: Error) => e instanceof PromptError && reason.test(e.message),
      prompt,
    );
  }
});

Deno.test("canonicalKey identifies prompts that describe the same scenes", () => {
  const key = (p: string) => canonicalKey(parsePrompt(p));
  assert.equal(key("a circle and a square"), key("a square and a circle"));
  assert.equal(
    key("a red circle right of a blue square"),
    key("a blue square left of a red circle"),
  );
  assert.equal(key("a red circle below a blue square"), key("a blue square above a red circle"));
  assert.notEqual(
    key("a red circle left of a blue square"),
    key("a red circle right of a blue square"),
  );
});
