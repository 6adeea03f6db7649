import assert from "node:assert/strict";
import {
  PAD_TOKEN,
  SHAPES_MAX_TOKENS,
  SHAPES_VOCABULARY,
  shapesTokenizer,
  Tokenizer,
  TokenizerError,
} from "../../mod.ts";

Deno.test("shapes vocabulary is pinned: 23 ids, pad first, 8 tokens", () => {
  assert.equal(SHAPES_VOCABULARY.length, 23);
  assert.equal(SHAPES_VOCABULARY[0], PAD_TOKEN);
  assert.equal(SHAPES_MAX_TOKENS, 8);
  assert.equal(shapesTokenizer.size, 23);
});

Deno.test("encode pads to a fixed length and decode inverts it", () => {
  const ids = shapesTokenizer.encode("  A Red circle   left of a blue square ");
  assert.deepEqual([...ids], [1, 11, 5, 18, 20, 1, 13, 7]);
  assert.equal(shapesTokenizer.decode(ids), "a red circle left of a blue square");
  assert.deepEqual([...shapesTokenizer.encode("two circles")], [2, 6, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...shapesTokenizer.encode("")], new Array(8).fill(0));
});

Deno.test("encodeBatch lays prompts out row by row", () => {
  const batch = shapesTokenizer.encodeBatch(["a circle", "four triangles"]);
  assert.equal(batch.length, 16);
  assert.deepEqual([...batch.subarray(0, 2)], [1, 5]);
  assert.deepEqual([...batch.subarray(8, 10)], [4, 10]);
});

Deno.test("unknown words, long prompts and bad ids throw TokenizerError", () => {
  assert.throws(
    () => shapesTokenizer.encode("a red hexagon"),
    (e: Error) => e instanceof TokenizerError && /unknown word "hexagon"/.test(e.message),
  );
  assert.throws(() => shapesTokenizer.encode("a <pad>"), TokenizerError);
  assert.throws(() => shapesTokenizer.encode("a a a a a a a a a"), /9 words; at most 8/);
  assert.throws(() => shapesTokenizer.decode([1, 99]), /token id 99 at position 1/);
});

Deno.test("metadata round-trips and malformed vocabularies are rejected", () => {
  const again = Tokenizer.fromMetadata(shapesTokenizer.toMetadata());
  assert.deepEqual(again.vocabulary, shapesTokenizer.vocabulary);
  assert.equal(again.version, shapesTokenizer.version);
  assert.deepEqual(again.encode("a red circle"), shapesTokenizer.encode("a red circle"));
  assert.throws(() => Tokenizer.fromMetadata("{"), /not JSON/);
  assert.throws(() => Tokenizer.fromMetadata("{}"), /needs/);
  assert.throws(() => new Tokenizer("v", ["a"], 4), /must start with <pad>/);
  assert.throws(() => new Tokenizer("v", [PAD_TOKEN, "a", "a"], 4), /repeats/);
  assert.throws(() => new Tokenizer("v", [PAD_TOKEN, "two words"], 4), /not one lower-case word/);
  assert.throws(() => new Tokenizer("v", [PAD_TOKEN], 0), /positive integer/);
});
