/**
 * The trainer's run configuration (docs/math.md §5–6), declared once: each
 * field with its type, default and doc in {@link TRAIN_CONFIG}, from which
 * the {@link TrainConfig} type, {@link DEFAULTS} and the known keys derive.
 * Errors name the bad field (`rollout.groupSize must be an integer ≥ 2, got 1`).
 *
 * @module
 */

import { defaults, fields, partial, section, type TypeOf, union } from "../cli/fields.ts";
import {
  boolean,
  describe,
  type Field,
  FieldError,
  integer,
  list,
  number,
  oneOf,
  pair,
  string,
} from "../cli/readers.ts";
import { ExpectedError } from "../cli/command.ts";
import { type Anchor, ANCHOR_DEFAULTS } from "../src/anchor.ts";
import type { ModelConfig } from "./model/config.ts";
import { REWARD_TERM } from "./rewards/registry.ts";

export { FieldError };
export type { RewardTermConfig } from "./rewards/registry.ts";

/** A configuration file (or a model file it names) cannot be used; the message names it. */
export class ConfigError extends ExpectedError {
  /** "ConfigError". */
  override name = "ConfigError";
}

/** Where the base model comes from. */
export type ModelSourceConfig =
  /** An emitted ONNX model; its weights are read from `<name>.bin` next to it. */
  | { readonly onnx: string }
  /** Random weights (tests): a default architecture with overrides, every parameter random. */
  | {
    readonly random: "meanflow" | "scm";
    readonly seed: number;
    readonly overrides: Partial<ModelConfig>;
  };

const ARCHITECTURE_DOC = "Overrides this field of the default architecture (see ModelConfig).";
/** The integer architecture fields a random model may override (see `ModelConfig`). */
const ARCHITECTURE = fields({
  imageSize: { type: integer({ min: 1 }), doc: ARCHITECTURE_DOC },
  patchSize: { type: integer({ min: 1 }), doc: ARCHITECTURE_DOC },
  hiddenDim: { type: integer({ min: 1 }), doc: ARCHITECTURE_DOC },
  depth: { type: integer({ min: 1 }), doc: ARCHITECTURE_DOC },
  heads: { type: integer({ min: 1 }), doc: ARCHITECTURE_DOC },
  mlpRatio: { type: integer({ min: 1 }), doc: ARCHITECTURE_DOC },
  textDim: { type: integer({ min: 1 }), doc: ARCHITECTURE_DOC },
  frequencyDim: { type: integer({ min: 1 }), doc: ARCHITECTURE_DOC },
  outputHidden: { type: integer({ min: 0 }), doc: ARCHITECTURE_DOC },
});

const ONNX_SOURCE = section(fields({
  onnx: { type: string(), doc: "Path of an emitted ONNX model." },
}));
const RANDOM_SOURCE = section(fields({
  random: { type: oneOf(["meanflow", "scm"] as const), doc: "Default architecture." },
  seed: { type: integer({ min: 0 }), default: 0, doc: "Seed of the random weights." },
  overrides: { type: partial(ARCHITECTURE), default: {}, doc: "Architecture overrides." },
}));

/** `{ onnx }` or `{ random, seed, overrides }`, told apart by which key is present. */
const MODEL_SOURCE: Field<ModelSourceConfig> = {
  expects: 'an object with "onnx" or "random"',
  read(value, path) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new FieldError(
        path,
        "invalid_type",
        `${path} must be an object, got ${describe(value)}`,
      );
    }
    if ("onnx" in value) return ONNX_SOURCE.read(value, path);
    if ("random" in value) return RANDOM_SOURCE.read(value, path) as ModelSourceConfig;
    throw new FieldError(
      path,
      "missing_field",
      `${path} needs "onnx" (a model path) or "random" ("meanflow" or "scm")`,
    );
  },
  fromText: (text) => ({ onnx: text }), // a flag names a model file
};

/**
 * How each stochastic rollout transition is made (docs/math.md §5.1–5.3), by
 * `kind`; the defaults are the SDK's (`ANCHOR_DEFAULTS`, src/anchor.ts).
 */
const ANCHORS = {
  endpoint: fields({
    eta: {
      type: number({ min: 0, max: 1, open: "min" }),
      default: ANCHOR_DEFAULTS.endpoint.eta,
      doc: "Fresh-noise share η: std σ(s)·η; 1 keeps the marginal exactly (§5.1).",
    },
  }),
  local: fields({
    delta: {
      type: number({ min: 0, open: "min" }),
      default: ANCHOR_DEFAULTS.local.delta,
      doc: "Anchor offset δ: a = s + δ (§5.2).",
    },
    noiseLevel: {
      type: number({ min: 0, open: "min" }),
      default: ANCHOR_DEFAULTS.local.noiseLevel,
      doc: "Flow-GRPO's noise level: g = noiseLevel · sqrt(a / (1 − a)) (§5.2).",
    },
    velocity: {
      type: oneOf(["reuse", "extra-nfe"] as const),
      default: ANCHOR_DEFAULTS.local.velocity,
      doc: "v̂: reuse u(x_t, s, t), or spend one extra NFE on u(y, s, s) (§5.2).",
    },
  }),
  "naive-intermediate": fields({
    fraction: {
      type: number({ min: 0, max: 1, open: "both" }),
      default: ANCHOR_DEFAULTS["naive-intermediate"].fraction,
      doc: "Anchor time a = fraction · s (§5.3, ablation only).",
    },
  }),
};

/**
 * How each stochastic rollout transition is made (docs/math.md §5.1–5.3):
 * the SDK's anchor union (`src/anchor.ts`) with every setting present.
 */
export type AnchorConfig = Anchor;

const ROLLOUT_ENGINES = ["onnx", "tfjs"] as const;
/** Where rollouts evaluate the network (see `TrainConfig.rollout.engine`). */
export type RolloutEngine = typeof ROLLOUT_ENGINES[number];

const INITIAL_NOISES = ["independent", "shared"] as const;
/** How a group's trajectories start (see `TrainConfig.rollout.initialNoise`). */
export type InitialNoise = typeof INITIAL_NOISES[number];

const ADVANTAGE_MODES = ["group", "per-prompt-global-std", "step-aware"] as const;
/** Advantage estimators of docs/math.md §6. */
export type AdvantageMode = typeof ADVANTAGE_MODES[number];

const LORA = fields({
  rank: { type: integer({ min: 1 }), default: 8, doc: "Rank r of each LoRA update." },
  alpha: { type: number({ min: 0, open: "min" }), default: 8, doc: "Scale α (update × α/r)." },
  targets: {
    type: list(string(), { min: 1, says: "must name at least one module" }),
    default: ["to_q", "to_k", "to_v", "to_out.0"],
    doc: "Module names the adapter wraps.",
  },
  seed: { type: integer({ min: 0 }), default: 0, doc: "Seed of the A matrices." },
});

const ROLLOUT = fields({
  prompts: {
    type: integer({ min: 1 }),
    default: 8,
    doc: "Distinct training prompts per iteration.",
  },
  groupSize: {
    type: integer({ min: 2 }),
    default: 8,
    doc: "Trajectories per prompt (G; the k of k-repeat sampling).",
  },
  stochasticSteps: {
    type: integer({ min: 1 }),
    default: 2,
    doc: "Stochastic transitions P before the deterministic final one.",
  },
  shift: {
    type: number({ min: 1 }),
    optional: true,
    doc: "Shift factor m of the rectified-flow rollout grid (docs/math.md §3); absent: the " +
      "model's own shift (its metadata's `shift`), the one evaluation and serving use. " +
      "TrigFlow grids take none.",
  },
  grid: {
    type: list(number()),
    optional: true,
    doc: "An explicit rollout grid t_0 > … > t_P > 0 and a final 0 (P + 2 times), instead of " +
      "the shifted or angular one: e.g. one that holds the times of the evaluation grids.",
  },
  anchor: {
    type: union("kind", ANCHORS, {
      endpoint: "Ask the map for X(t → 0) and re-noise it to the next time (§5.1).",
      local: "The map's jump to s, then a compensated SDE correction via a = s + δ (§5.2).",
      "naive-intermediate": "Ablation only: anchor time a = fraction · s (§5.3).",
    }),
    doc: "The stochastic transition.",
  },
  microBatch: {
    type: integer({ min: 1 }),
    default: 16,
    doc: "Trajectories per forward pass, in rollouts and updates alike.",
  },
  engine: {
    type: oneOf(ROLLOUT_ENGINES),
    default: "onnx",
    doc: 'Where rollouts run the network: "onnx" (ONNX Runtime, the adapter merged each ' +
      'iteration; about ten times faster per forward pass) or "tfjs" (the objective\'s own ' +
      "forward, so the first ratio is exactly 1).",
  },
  initialNoise: {
    type: oneOf(INITIAL_NOISES),
    default: "independent",
    doc: 'Where trajectories start: "independent" (each its own noise) or "shared" (a group ' +
      "starts from one noise, so its rewards differ only through the stochastic transitions).",
  },
});

const ADVANTAGE = fields({
  mode: { type: oneOf(ADVANTAGE_MODES), default: "per-prompt-global-std", doc: "Estimator." },
  sum: {
    type: boolean(),
    default: false,
    doc: "step-aware only: every transition gets the sum over steps.",
  },
  clip: { type: number({ min: 0, open: "min" }), default: 5, doc: "A_max of the clamp." },
});

const OBJECTIVE = fields({
  clipRange: {
    type: number({ min: 0, open: "min" }),
    default: 1e-4,
    doc: "Clip range ε of the ratio.",
  },
  klBeta: { type: number({ min: 0 }), default: 0.004, doc: "Weight β of the KL term." },
  klScale: {
    type: oneOf(["step-std", "noise-scale"] as const),
    default: "noise-scale",
    doc: "The scale the KL divides by (docs/math.md §5.5).",
  },
  reduction: {
    type: oneOf(["mean", "sum"] as const),
    default: "mean",
    doc: "Log-probabilities over pixels: mean or sum.",
  },
});

const OPTIMIZER = fields({
  lr: { type: number({ min: 0, open: "min" }), default: 3e-4, doc: "Learning rate." },
  betas: {
    type: pair(number({ min: 0, max: 1, open: "max" }), "must hold two numbers"),
    default: [0.9, 0.999],
    doc: "Adam's β1, β2.",
  },
  weightDecay: { type: number({ min: 0 }), default: 1e-4, doc: "Decoupled weight decay." },
  eps: { type: number({ min: 0, open: "min" }), default: 1e-8, doc: "Adam's ε." },
  gradClip: { type: number({ min: 0, open: "min" }), default: 1, doc: "Global gradient norm cap." },
  accumulation: {
    type: integer({ min: 1 }),
    default: 1,
    doc: "Micro-batches whose gradients are summed per optimiser step.",
  },
  innerEpochs: {
    type: integer({ min: 1 }),
    default: 1,
    doc: "Passes over each iteration's trajectories.",
  },
});

const EMA = fields({
  decay: { type: number({ min: 0, max: 1, open: "max" }), default: 0.9, doc: "EMA decay." },
  every: { type: integer({ min: 1 }), default: 8, doc: "Optimiser steps between EMA updates." },
});

const TRAIN = fields({
  iterations: { type: integer({ min: 1 }), default: 100, doc: "Iterations of the run." },
  seed: {
    type: integer({ min: 0, max: 2 ** 28 - 1 }),
    default: 0,
    doc: "Seed of prompts, noise and shuffles.",
  },
  checkpointEvery: {
    type: integer({ min: 1 }),
    default: 5,
    doc: "Iterations between checkpoints.",
  },
  maxMinutes: {
    type: number({ min: 0 }),
    default: 0,
    doc: "Wall-clock budget of one process in minutes (0: none); the run then evaluates and stops.",
  },
  workers: {
    type: integer({ min: 1 }),
    default: 1,
    doc: "Threads sharing each iteration, data-parallel: each rolls out and scores a slice of " +
      "the micro-batches and draws units of every optimiser step, whose gradients are added in " +
      "unit order before the step, so the result is a one-thread run's. Above 1, each uses " +
      "one OpenBLAS and one ONNX Runtime thread. A run may resume with another count.",
  },
});

const EVAL = fields({
  every: {
    type: integer({ min: 0 }),
    default: 10,
    doc: "Evaluate every this many iterations (and at the end); 0: only at the end.",
  },
  steps: {
    type: list(integer({ min: 1 }), { min: 1, says: "must list at least one K" }),
    default: [1, 2, 3, 4],
    doc: "Step counts K evaluated.",
  },
  prompts: {
    type: integer({ min: 1 }),
    default: 32,
    doc: "Held-out prompts evaluated (evenly spaced over the eval split).",
  },
  seedsPerPrompt: {
    type: integer({ min: 1 }),
    default: 2,
    doc: "Seeds per prompt (diversity needs ≥ 2).",
  },
  seed: { type: integer({ min: 0 }), default: 1_000_000, doc: "First evaluation seed." },
});

/**
 * Every field of a run configuration: type, default and doc, each once.
 *
 * @example
 * ```ts
 * import { TRAIN_CONFIG } from "./config.ts";
 * TRAIN_CONFIG.rollout.doc; // "Rollouts (docs/math.md §6): …"
 * ```
 */
export const TRAIN_CONFIG = fields({
  name: {
    type: string({ pattern: /^[\w.-]+$/, means: "a plain file name" }),
    doc: "Run name (used for the default output directory).",
  },
  model: { type: MODEL_SOURCE, doc: "Base model." },
  lora: {
    type: section(LORA),
    doc: "LoRA adapter trained on top of the frozen base (docs/math.md §7).",
  },
  rollout: {
    type: section(ROLLOUT, { check: checkGrid }),
    doc: "Rollouts (docs/math.md §6): prompts × groupSize trajectories of P + 1 transitions.",
  },
  reward: {
    type: list(REWARD_TERM, { min: 1, says: "must list at least one term" }),
    doc: "Reward terms (weighted sum; kinds in trainer/rewards/registry.ts).",
  },
  advantage: {
    type: section(ADVANTAGE, { check: checkAdvantage }),
    doc: "Advantages (docs/math.md §6).",
  },
  objective: {
    type: section(OBJECTIVE),
    doc: "The clipped objective and KL (docs/math.md §5.5, §6).",
  },
  optimizer: { type: section(OPTIMIZER), doc: "AdamW over the LoRA weights (docs/math.md §6)." },
  ema: { type: section(EMA), doc: "EMA of the LoRA weights used for evaluation and export." },
  train: { type: section(TRAIN), doc: "Run length and bookkeeping." },
  eval: { type: section(EVAL), doc: "Deterministic held-out evaluation (docs/math.md §6)." },
});

/** A validated run configuration; every field present. */
export type TrainConfig = TypeOf<typeof TRAIN_CONFIG>;

/** The whole configuration's reader: fields, then the rules that span sections. */
const CONFIG = section(TRAIN_CONFIG, { label: "config", check: crossChecks });

/**
 * Defaults for every optional field (docs/math.md §6 values for the optimiser
 * and EMA), derived from {@link TRAIN_CONFIG}; anchors' per kind.
 *
 * @example
 * ```ts
 * import { DEFAULTS } from "./config.ts";
 * (DEFAULTS.optimizer as { lr: number }).lr; // 3e-4
 * ```
 */
export const DEFAULTS: Readonly<Record<string, unknown>> = defaults(TRAIN_CONFIG);

/**
 * Validates parsed JSON into a {@link TrainConfig}, filling defaults. Throws
 * {@link FieldError} naming the first bad or unknown field.
 *
 * @example
 * ```ts
 * import { validateTrainConfig } from "./config.ts";
 * const config = validateTrainConfig({
 *   name: "demo",
 *   model: { onnx: "src/models/shapes-meanflow/model.onnx" },
 *   rollout: { anchor: { kind: "local" } },
 *   reward: [{ kind: "composition", mode: "partial" }],
 * });
 * config.optimizer.lr; // 3e-4
 * ```
 */
export function validateTrainConfig(value: unknown): TrainConfig {
  return CONFIG.read(value, "");
}

/**
 * Reads and validates a configuration file; a {@link ConfigError} names the
 * file and, for a bad value, the field.
 *
 * @example
 * ```ts ignore
 * import { loadTrainConfig } from "./config.ts";
 * const config = await loadTrainConfig("trainer/configs/shapes-meanflow.json");
 * ```
 */
export async function loadTrainConfig(path: string): Promise<TrainConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new ConfigError(`cannot read config ${path}: ${(cause as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`config ${path} is not JSON: ${(cause as Error).message}`);
  }
  try {
    return validateTrainConfig(json);
  } catch (error) {
    if (error instanceof FieldError) {
      throw new ConfigError(`${path}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function checkGrid(rollout: TypeOf<typeof ROLLOUT>): void {
  const { grid, stochasticSteps } = rollout;
  if (grid !== undefined && grid.length !== stochasticSteps + 2) {
    throw new FieldError(
      "rollout.grid",
      "out_of_range",
      `rollout.grid must hold stochasticSteps + 2 = ${
        stochasticSteps + 2
      } times, got ${grid.length}`,
    );
  }
}

function checkAdvantage({ sum, mode }: TypeOf<typeof ADVANTAGE>): void {
  if (sum && mode !== "step-aware") {
    throw new FieldError(
      "advantage.sum",
      "invalid_value",
      `advantage.sum applies to mode "step-aware" only, got mode "${mode}"`,
    );
  }
}

function crossChecks(config: TrainConfig): void {
  const { anchor, stochasticSteps, prompts, groupSize, microBatch } = config.rollout;
  const kind = "random" in config.model
    ? (config.model.random === "meanflow" ? "two-time" : "one-time")
    : undefined;
  const invalid = (path: string, message: string) => new FieldError(path, "invalid_value", message);
  if (kind === "one-time" && anchor.kind !== "endpoint") {
    throw invalid(
      "rollout.anchor.kind",
      `rollout.anchor.kind "${anchor.kind}" needs a two-time map; one-time maps use "endpoint"`,
    );
  }
  if (config.rollout.shift !== undefined && config.rollout.grid !== undefined) {
    throw invalid(
      "rollout.shift",
      "rollout.shift builds a grid; an explicit rollout.grid takes none",
    );
  }
  if (config.advantage.mode === "step-aware" && stochasticSteps < 2) {
    throw invalid("advantage.mode", "advantage.mode step-aware needs rollout.stochasticSteps ≥ 2");
  }
  if ((prompts * groupSize) % microBatch !== 0) {
    throw invalid(
      "rollout.microBatch",
      `rollout.microBatch ${microBatch} must divide rollout.prompts × rollout.groupSize = ${
        prompts * groupSize
      }`,
    );
  }
}
