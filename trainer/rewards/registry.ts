/**
 * The rewards a run configuration can name, by `kind` (as transformers.js'
 * `SUPPORTED_TASKS` maps a task to its pipeline): each kind's own fields,
 * declared once, and the factory that builds it. A config's reward term is
 * `{ kind, ...fields, weight }`; adding a reward is one entry here.
 *
 * @module
 */

import {
  fields,
  type Schema,
  type TypeOf,
  union,
  type UnionField,
  type UnionOf,
} from "../../cli/fields.ts";
import { number, oneOf, url } from "../../cli/readers.ts";
import { brightness } from "./brightness.ts";
import { COMPOSITION_MODES, compositionReward } from "./composition.ts";
import { jpegCompressibility } from "./compressibility.ts";
import { httpReward } from "./http.ts";
import { randomControl } from "./random.ts";
import type { Reward } from "./reward.ts";

/** One reward kind: what it is, its fields and how to build it from them. */
export interface RewardKind<S extends Schema> {
  /** What the reward scores. */
  readonly doc: string;
  /** The kind's own fields (besides `kind` and `weight`). */
  readonly fields: S;
  /** Builds the reward from a term's fields. */
  create(term: TypeOf<S>): Reward;
}

/** Declares a reward kind (the identity, there so `create` sees its fields' types). */
function kind<S extends Schema>(entry: RewardKind<S>): RewardKind<S> {
  return entry;
}

/**
 * Every reward kind a config may name.
 *
 * @example
 * ```ts
 * import { REWARDS } from "./registry.ts";
 * REWARDS.composition.create({ mode: "partial" }).name; // "composition:partial"
 * ```
 */
export const REWARDS = {
  composition: kind({
    doc: "The shapes world's compositional verdict on each image against its prompt.",
    fields: fields({
      mode: {
        type: oneOf(COMPOSITION_MODES),
        default: "strict",
        doc: "strict (0/1), partial (fraction of constraints), graded or dense.",
      },
    }),
    create: (term) => compositionReward({ mode: term.mode }),
  }),
  "jpeg-compressibility": kind({
    doc: "How well each image compresses as JPEG.",
    fields: fields({}),
    create: () => jpegCompressibility(),
  }),
  brightness: kind({
    doc: "Mean brightness (smoke tests).",
    fields: fields({}),
    create: () => brightness(),
  }),
  random: kind({
    doc: "A control without signal: a hash of the image's bytes.",
    fields: fields({}),
    create: () => randomControl(),
  }),
  http: kind({
    doc: "A reward served over HTTP.",
    fields: fields({ url: { type: url(), doc: "The endpoint that receives the POSTs." } }),
    create: (term) => httpReward({ url: term.url }),
  }),
};

/** A reward kind's name. */
export type RewardKindName = keyof typeof REWARDS;

/** The fields every term has besides its kind's own: its weight in the summed reward. */
export const TERM_FIELDS = fields({
  weight: { type: number(), default: 1, doc: "Weight of this term in the summed reward." },
});

/** Each kind's term fields: its own, then the weight. */
export type TermVariants = {
  readonly [K in RewardKindName]: (typeof REWARDS)[K]["fields"] & typeof TERM_FIELDS;
};

/**
 * The reader of one reward term, `{ kind, ...fields, weight }`.
 *
 * @example
 * ```ts
 * import { REWARD_TERM } from "./registry.ts";
 * REWARD_TERM.read({ kind: "composition" }, "reward[0]"); // { kind: "composition", mode: "strict", weight: 1 }
 * ```
 */
export const REWARD_TERM: UnionField<"kind", TermVariants> = union(
  "kind",
  Object.fromEntries(
    Object.entries(REWARDS).map(([name, entry]) => [name, { ...entry.fields, ...TERM_FIELDS }]),
  ) as TermVariants,
  Object.fromEntries(Object.entries(REWARDS).map(([name, entry]) => [name, entry.doc])),
);

/** One reward term of a config; several are summed with their weights. */
export type RewardTermConfig = UnionOf<"kind", TermVariants>;

/**
 * The reward a term names, built by its kind's factory (the weight is the caller's).
 *
 * @example
 * ```ts
 * import { createReward } from "./registry.ts";
 * createReward({ kind: "brightness", weight: 1 }).name; // "brightness"
 * ```
 */
export function createReward(term: RewardTermConfig): Reward {
  const entry = REWARDS[term.kind] as RewardKind<Schema>;
  return entry.create(term);
}
