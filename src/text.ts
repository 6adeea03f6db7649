/**
 * The prompt tokenizer of the model family: a fixed word vocabulary, prompts
 * encoded to fixed-length `Int32Array` token ids padded with id 0.
 *
 * The bundled vocabulary covers the "shapes" world's prompt grammar (shapes,
 * colours, counts, relations). Models record their vocabulary in their
 * metadata ({@link Tokenizer.toMetadata}); the SDK rebuilds the same tokenizer
 * from it ({@link Tokenizer.fromMetadata}). Pure: no file system, no FFI.
 *
 * @module
 */

/** The padding token; always id 0. An all-padding sequence is the empty (unconditional) prompt. */
export const PAD_TOKEN = "<pad>";

/** Version of {@link SHAPES_VOCABULARY}; bump it whenever a word is added, removed or moved. */
export const SHAPES_VOCABULARY_VERSION = "shapes-vocab-v1";

/**
 * The shapes world's vocabulary; a word's id is its index. Fixed: models
 * trained on it embed these ids.
 */
export const SHAPES_VOCABULARY: readonly string[] = Object.freeze([
  PAD_TOKEN,
  "a",
  "two",
  "three",
  "four",
  "circle",
  "circles",
  "square",
  "squares",
  "triangle",
  "triangles",
  "red",
  "green",
  "blue",
  "yellow",
  "purple",
  "cyan",
  "and",
  "left",
  "right",
  "of",
  "above",
  "below",
]);

/** Token length of encoded shapes prompts: the grammar's longest prompt ("a red circle left of a blue square"). */
export const SHAPES_MAX_TOKENS = 8;

/** A prompt could not be encoded (unknown word, too long) or ids could not be decoded. */
export class TokenizerError extends Error {
  /** Creates the error with its message. */
  constructor(message: string) {
    super(message);
    this.name = "TokenizerError";
  }
}

/** The JSON a model stores in its metadata to describe its tokenizer. */
export interface TokenizerMetadata {
  /** Vocabulary version, e.g. {@link SHAPES_VOCABULARY_VERSION}. */
  version: string;
  /** Fixed sequence length of encoded prompts. */
  maxTokens: number;
  /** Words by id; id 0 is {@link PAD_TOKEN}. */
  vocabulary: string[];
}

/**
 * Word-level tokenizer: lower-cases a prompt, splits it on whitespace and maps
 * each word to its id; the ids are left-aligned and padded with 0 to
 * `maxTokens`. Unknown words and over-long prompts throw {@link TokenizerError}.
 *
 * @example Encode and decode a prompt
 * ```ts
 * import { shapesTokenizer } from "./text.ts";
 * const ids = shapesTokenizer.encode("a red circle left of a blue square");
 * // Int32Array [1, 11, 5, 18, 20, 1, 13, 7]
 * shapesTokenizer.decode(ids); // "a red circle left of a blue square"
 * shapesTokenizer.encode(""); // all zeros: the unconditional prompt
 * ```
 */
export class Tokenizer {
  /** Vocabulary version. */
  readonly version: string;
  /** Words by id. */
  readonly vocabulary: readonly string[];
  /** Length of every encoded sequence. */
  readonly maxTokens: number;
  readonly #ids: ReadonlyMap<string, number>;

  /**
   * Builds a tokenizer over a vocabulary; throws {@link TokenizerError} on a malformed one.
   *
   * @param version vocabulary version recorded with models
   * @param vocabulary words by id: unique, lower-case, no whitespace, id 0 = {@link PAD_TOKEN}
   * @param maxTokens fixed encoded length, a positive integer
   */
  constructor(version: string, vocabulary: readonly string[], maxTokens: number) {
    if (vocabulary[0] !== PAD_TOKEN) {
      throw new TokenizerError(`vocabulary must start with ${PAD_TOKEN}, got ${vocabulary[0]}`);
    }
    const ids = new Map<string, number>();
    vocabulary.forEach((word, id) => {
      if (!/^[^\sA-Z]+$/.test(word)) {
        throw new TokenizerError(
          `vocabulary word ${id} ${JSON.stringify(word)} is not one lower-case word`,
        );
      }
      if (ids.has(word)) {
        throw new TokenizerError(`vocabulary word ${JSON.stringify(word)} repeats`);
      }
      ids.set(word, id);
    });
    if (!Number.isInteger(maxTokens) || maxTokens < 1) {
      throw new TokenizerError(`maxTokens must be a positive integer, got ${maxTokens}`);
    }
    this.version = version;
    this.vocabulary = Object.freeze([...vocabulary]);
    this.maxTokens = maxTokens;
    this.#ids = ids;
  }

  /** Rebuilds a tokenizer from {@link Tokenizer.toMetadata}'s JSON. */
  static fromMetadata(json: string): Tokenizer {
    let meta: Partial<TokenizerMetadata>;
    try {
      meta = JSON.parse(json);
    } catch (cause) {
      throw new TokenizerError(`tokenizer metadata is not JSON: ${(cause as Error).message}`);
    }
    const { version, maxTokens, vocabulary } = meta ?? {};
    if (
      typeof version !== "string" || typeof maxTokens !== "number" || !Array.isArray(vocabulary)
    ) {
      throw new TokenizerError(
        "tokenizer metadata needs {version: string, maxTokens: number, vocabulary: string[]}",
      );
    }
    return new Tokenizer(version, vocabulary, maxTokens);
  }

  /** Number of ids (including padding). */
  get size(): number {
    return this.vocabulary.length;
  }

  /** The JSON that {@link Tokenizer.fromMetadata} reads, for model metadata. */
  toMetadata(): string {
    const meta: TokenizerMetadata = {
      version: this.version,
      maxTokens: this.maxTokens,
      vocabulary: [...this.vocabulary],
    };
    return JSON.stringify(meta);
  }

  /** A prompt's normalised words: lower-cased, split on runs of whitespace. */
  words(prompt: string): string[] {
    const trimmed = prompt.trim().toLowerCase();
    return trimmed === "" ? [] : trimmed.split(/\s+/);
  }

  /** Encodes one prompt into `maxTokens` ids, padded with 0. */
  encode(prompt: string): Int32Array {
    return this.#encodeInto(prompt, new Int32Array(this.maxTokens), 0);
  }

  /** Encodes prompts into one `[prompts.length × maxTokens]` row-major array. */
  encodeBatch(prompts: readonly string[]): Int32Array {
    const out = new Int32Array(prompts.length * this.maxTokens);
    prompts.forEach((prompt, i) => this.#encodeInto(prompt, out, i * this.maxTokens));
    return out;
  }

  /** Decodes ids back to the normalised prompt, ignoring padding. */
  decode(ids: ArrayLike<number>): string {
    const words: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === 0) continue;
      const word = Number.isInteger(id) ? this.vocabulary[id] : undefined;
      if (word === undefined) {
        throw new TokenizerError(
          `token id ${id} at position ${i} is outside the vocabulary of ${this.size}`,
        );
      }
      words.push(word);
    }
    return words.join(" ");
  }

  #encodeInto(prompt: string, out: Int32Array, offset: number): Int32Array {
    const words = this.words(prompt);
    if (words.length > this.maxTokens) {
      throw new TokenizerError(
        `prompt ${JSON.stringify(prompt)} has ${words.length} words; at most ${this.maxTokens} fit`,
      );
    }
    words.forEach((word, i) => {
      const id = this.#ids.get(word);
      if (id === undefined || id === 0) {
        throw new TokenizerError(
          `unknown word ${JSON.stringify(word)} in prompt ${JSON.stringify(prompt)} ` +
            `(vocabulary ${this.version}: ${this.vocabulary.slice(1).join(", ")})`,
        );
      }
      out[offset + i] = id;
    });
    return out;
  }
}

/** The tokenizer of the shapes world's models. */
export const shapesTokenizer: Tokenizer = new Tokenizer(
  SHAPES_VOCABULARY_VERSION,
  SHAPES_VOCABULARY,
  SHAPES_MAX_TOKENS,
);
