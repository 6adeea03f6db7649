/**
 * The trainer's run configuration (docs/math.md §5–6): its schema as types,
 * the defaults, and a hand-written validator whose errors name the bad field
 * (`rollout.groupSize must be an integer ≥ 2, got 1`).
 *
 * @module
 */

import { type Anchor, ANCHOR_DEFAULTS } from "../src/anchor.ts";
import type { KlScale, Reduction } from "../src/logprob.ts";
import type { ModelConfig } from "./model/config.ts";
import { COMPOSITION_MODES, type CompositionMode } from "./rewards/composition.ts";
import {
  array,
  boolean,
  ConfigError,
  integer,
  type Json,
  known,
  nonNegative,
  number,
  object,
  oneOf,
  positive,
  section,
  string,
} from "./config_fields.ts";

export { ConfigError };

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

/** Where rollouts evaluate the network (see `TrainConfig.rollout.engine`). */
export type RolloutEngine = "onnx" | "tfjs";

/** How a group's trajectories start (see `TrainConfig.rollout.initialNoise`). */
export type InitialNoise = "independent" | "shared";

/**
 * How each stochastic rollout transition is made (docs/math.md §5.1–5.3):
 * the SDK's anchor union (`src/anchor.ts`) with every setting present.
 */
export type AnchorConfig = Anchor;

/** One reward term; several are summed with their weights. */
export type RewardTermConfig =
  | { readonly kind: "composition"; readonly mode: CompositionMode; readonly weight: number }
  | { readonly kind: "jpeg-compressibility"; readonly weight: number }
  | { readonly kind: "brightness"; readonly weight: number }
  /** A control without signal: a hash of the image's bytes. */
  | { readonly kind: "random"; readonly weight: number }
  | { readonly kind: "http"; readonly url: string; readonly weight: number };

/** Advantage estimators of docs/math.md §6. */
export type AdvantageMode = "group" | "per-prompt-global-std" | "step-aware";

/** A validated run configuration; every field present. */
export interface TrainConfig {
  /** Run name (used for the default output directory). */
  readonly name: string;
  /** Base model. */
  readonly model: ModelSourceConfig;
  /** LoRA adapter trained on top of the frozen base (docs/math.md §7). */
  readonly lora: {
    readonly rank: number;
    readonly alpha: number;
    readonly targets: readonly string[];
    readonly seed: number;
  };
  /** Rollouts (docs/math.md §6): prompts × groupSize trajectories of P + 1 transitions. */
  readonly rollout: {
    /** Distinct training prompts per iteration. */
    readonly prompts: number;
    /** Trajectories per prompt (G; the k of k-repeat sampling). */
    readonly groupSize: number;
    /** Stochastic transitions P before the deterministic final one. */
    readonly stochasticSteps: number;
    /**
     * Shift factor m of the rectified-flow rollout grid (docs/math.md §3);
     * absent: the model's own shift (its metadata's `shift`), the one
     * evaluation and serving use. TrigFlow grids take none.
     */
    readonly shift?: number;
    /**
     * An explicit rollout grid `t_0 > … > t_P > 0` and a final 0 (P + 2 times),
     * instead of the shifted or angular one: e.g. one that holds the times of
     * the evaluation grids, so the maps evaluation uses are the ones trained.
     */
    readonly grid?: readonly number[];
    /** The stochastic transition. */
    readonly anchor: AnchorConfig;
    /** Trajectories per forward pass, in rollouts and updates alike. */
    readonly microBatch: number;
    /**
     * Where rollouts run the network: `"onnx"` (ONNX Runtime, the adapter
     * merged each iteration; about ten times faster per forward pass) or
     * `"tfjs"` (the objective's own forward, so the first ratio is exactly 1).
     */
    readonly engine: RolloutEngine;
    /**
     * Where trajectories start: `"independent"` (each its own noise) or
     * `"shared"` (a group starts from one noise, so its rewards differ only
     * through the policy's stochastic transitions).
     */
    readonly initialNoise: InitialNoise;
  };
  /** Reward terms (weighted sum). */
  readonly reward: readonly RewardTermConfig[];
  /** Advantages (docs/math.md §6). */
  readonly advantage: {
    readonly mode: AdvantageMode;
    /** step-aware only: every transition gets the sum over steps. */
    readonly sum: boolean;
    /** A_max of the clamp. */
    readonly clip: number;
  };
  /** The clipped objective and KL (docs/math.md §5.5, §6). */
  readonly objective: {
    readonly clipRange: number;
    readonly klBeta: number;
    readonly klScale: KlScale;
    readonly reduction: Reduction;
  };
  /** AdamW over the LoRA weights (docs/math.md §6). */
  readonly optimizer: {
    readonly lr: number;
    readonly betas: readonly [number, number];
    readonly weightDecay: number;
    readonly eps: number;
    readonly gradClip: number;
    /** Micro-batches whose gradients are summed per optimiser step. */
    readonly accumulation: number;
    /** Passes over each iteration's trajectories. */
    readonly innerEpochs: number;
  };
  /** EMA of the LoRA weights used for evaluation and export. */
  readonly ema: { readonly decay: number; readonly every: number };
  /** Run length and bookkeeping. */
  readonly train: {
    readonly iterations: number;
    readonly seed: number;
    readonly checkpointEvery: number;
    /** Wall-clock budget of one process in minutes (0: none); the run then evaluates and stops. */
    readonly maxMinutes: number;
  };
  /** Deterministic held-out evaluation (docs/math.md §6). */
  readonly eval: {
    /** Evaluate every this many iterations (and at the end); 0: only at the end. */
    readonly every: number;
    readonly steps: readonly number[];
    /** Held-out prompts evaluated (evenly spaced over the eval split). */
    readonly prompts: number;
    /** Seeds per prompt (diversity needs ≥ 2). */
    readonly seedsPerPrompt: number;
    readonly seed: number;
  };
}

/** Defaults for every optional field (docs/math.md §6 values for the optimiser and EMA). */
export const DEFAULTS = Object.freeze({
  lora: { rank: 8, alpha: 8, targets: ["to_q", "to_k", "to_v", "to_out.0"], seed: 0 },
  rollout: {
    prompts: 8,
    groupSize: 8,
    stochasticSteps: 2,
    microBatch: 16,
    engine: "onnx" as RolloutEngine,
    initialNoise: "independent" as InitialNoise,
  },
  anchor: {
    ...ANCHOR_DEFAULTS.endpoint,
    ...ANCHOR_DEFAULTS.local,
    ...ANCHOR_DEFAULTS["naive-intermediate"],
  },
  advantage: { mode: "per-prompt-global-std", sum: false, clip: 5 },
  objective: { clipRange: 1e-4, klBeta: 0.004, klScale: "noise-scale", reduction: "mean" },
  optimizer: {
    lr: 3e-4,
    betas: [0.9, 0.999],
    weightDecay: 1e-4,
    eps: 1e-8,
    gradClip: 1,
    accumulation: 1,
    innerEpochs: 1,
  },
  ema: { decay: 0.9, every: 8 },
  train: { iterations: 100, seed: 0, checkpointEvery: 5, maxMinutes: 0 },
  eval: { every: 10, steps: [1, 2, 3, 4], prompts: 32, seedsPerPrompt: 2, seed: 1_000_000 },
});

/** The integer architecture fields a random model may override (see `ModelConfig`). */
const ARCHITECTURE_FIELDS = [
  "imageSize",
  "patchSize",
  "hiddenDim",
  "depth",
  "heads",
  "mlpRatio",
  "textDim",
  "frequencyDim",
  "outputHidden",
];

/**
 * Validates parsed JSON into a {@link TrainConfig}, filling defaults. Throws
 * {@link ConfigError} naming the first bad or unknown field.
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
  const root = object(value, "config");
  known(root, "config", [
    "name",
    "model",
    "lora",
    "rollout",
    "reward",
    "advantage",
    "objective",
    "optimizer",
    "ema",
    "train",
    "eval",
  ]);
  const name = string(root.name, "name");
  if (!/^[\w.-]+$/.test(name)) throw new ConfigError(`name must be a plain file name, got ${name}`);
  const config: TrainConfig = {
    name,
    model: modelSource(root.model),
    lora: lora(section(root, "lora")),
    rollout: rollout(section(root, "rollout")),
    reward: rewards(root.reward),
    advantage: advantage(section(root, "advantage")),
    objective: objective(section(root, "objective")),
    optimizer: optimizer(section(root, "optimizer")),
    ema: ema(section(root, "ema")),
    train: train(section(root, "train")),
    eval: evaluation(section(root, "eval")),
  };
  crossChecks(config);
  return config;
}

/**
 * Reads and validates a configuration file; errors name the file and field.
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
    if (error instanceof ConfigError) throw new ConfigError(`${path}: ${error.message}`);
    throw error;
  }
}

function modelSource(value: unknown): ModelSourceConfig {
  const model = object(value, "model");
  if ("onnx" in model) {
    known(model, "model", ["onnx"]);
    return { onnx: string(model.onnx, "model.onnx") };
  }
  if ("random" in model) {
    known(model, "model", ["random", "seed", "overrides"]);
    const kind = oneOf(model.random, "model.random", ["meanflow", "scm"] as const);
    const overrides = model.overrides === undefined
      ? {}
      : object(model.overrides, "model.overrides");
    known(overrides, "model.overrides", ARCHITECTURE_FIELDS);
    for (const [key, v] of Object.entries(overrides)) {
      integer(v, `model.overrides.${key}`, key === "outputHidden" ? 0 : 1);
    }
    return {
      random: kind,
      seed: integer(model.seed ?? 0, "model.seed", 0),
      overrides: overrides as Partial<ModelConfig>,
    };
  }
  throw new ConfigError('model needs "onnx" (a model path) or "random" ("meanflow" or "scm")');
}

function lora(s: Json): TrainConfig["lora"] {
  known(s, "lora", ["rank", "alpha", "targets", "seed"]);
  const d = DEFAULTS.lora;
  const targets = s.targets === undefined ? d.targets : array(s.targets, "lora.targets");
  if (targets.length === 0) throw new ConfigError("lora.targets must name at least one module");
  return {
    rank: integer(s.rank ?? d.rank, "lora.rank", 1),
    alpha: positive(s.alpha ?? d.alpha, "lora.alpha"),
    targets: targets.map((t, i) => string(t, `lora.targets[${i}]`)),
    seed: integer(s.seed ?? d.seed, "lora.seed", 0),
  };
}

function rollout(s: Json): TrainConfig["rollout"] {
  known(s, "rollout", [
    "prompts",
    "groupSize",
    "stochasticSteps",
    "shift",
    "grid",
    "anchor",
    "microBatch",
    "engine",
    "initialNoise",
  ]);
  const d = DEFAULTS.rollout;
  const shift = s.shift === undefined ? undefined : number(s.shift, "rollout.shift");
  if (shift !== undefined && shift < 1) {
    throw new ConfigError(`rollout.shift must be ≥ 1, got ${shift}`);
  }
  const stochasticSteps = integer(
    s.stochasticSteps ?? d.stochasticSteps,
    "rollout.stochasticSteps",
    1,
  );
  const grid = s.grid === undefined
    ? undefined
    : array(s.grid, "rollout.grid").map((t, i) => number(t, `rollout.grid[${i}]`));
  if (grid !== undefined && grid.length !== stochasticSteps + 2) {
    throw new ConfigError(
      `rollout.grid must hold stochasticSteps + 2 = ${
        stochasticSteps + 2
      } times, got ${grid.length}`,
    );
  }
  return {
    prompts: integer(s.prompts ?? d.prompts, "rollout.prompts", 1),
    groupSize: integer(s.groupSize ?? d.groupSize, "rollout.groupSize", 2),
    stochasticSteps,
    ...(shift === undefined ? {} : { shift }),
    ...(grid === undefined ? {} : { grid }),
    anchor: anchor(s.anchor),
    microBatch: integer(s.microBatch ?? d.microBatch, "rollout.microBatch", 1),
    engine: oneOf(s.engine ?? d.engine, "rollout.engine", ["onnx", "tfjs"] as const),
    initialNoise: oneOf(
      s.initialNoise ?? d.initialNoise,
      "rollout.initialNoise",
      ["independent", "shared"] as const,
    ),
  };
}

function anchor(value: unknown): AnchorConfig {
  const a = object(value, "rollout.anchor");
  const kind = oneOf(
    a.kind,
    "rollout.anchor.kind",
    ["endpoint", "local", "naive-intermediate"] as const,
  );
  const d = DEFAULTS.anchor;
  if (kind === "endpoint") {
    known(a, "rollout.anchor", ["kind", "eta"]);
    const eta = number(a.eta ?? d.eta, "rollout.anchor.eta");
    if (!(eta > 0 && eta <= 1)) {
      throw new ConfigError(`rollout.anchor.eta must lie in (0, 1], got ${eta}`);
    }
    return { kind, eta };
  }
  if (kind === "local") {
    known(a, "rollout.anchor", ["kind", "delta", "noiseLevel", "velocity"]);
    return {
      kind,
      delta: positive(a.delta ?? d.delta, "rollout.anchor.delta"),
      noiseLevel: positive(a.noiseLevel ?? d.noiseLevel, "rollout.anchor.noiseLevel"),
      velocity: oneOf(
        a.velocity ?? d.velocity,
        "rollout.anchor.velocity",
        ["reuse", "extra-nfe"] as const,
      ),
    };
  }
  known(a, "rollout.anchor", ["kind", "fraction"]);
  const fraction = number(a.fraction ?? d.fraction, "rollout.anchor.fraction");
  if (!(fraction > 0 && fraction < 1)) {
    throw new ConfigError(`rollout.anchor.fraction must lie in (0, 1), got ${fraction}`);
  }
  return { kind, fraction };
}

function rewards(value: unknown): RewardTermConfig[] {
  const terms = array(value, "reward");
  if (terms.length === 0) throw new ConfigError("reward must list at least one term");
  return terms.map((term, i) => {
    const where = `reward[${i}]`;
    const t = object(term, where);
    const kind = oneOf(
      t.kind,
      `${where}.kind`,
      ["composition", "jpeg-compressibility", "brightness", "random", "http"] as const,
    );
    const weight = number(t.weight ?? 1, `${where}.weight`);
    if (kind === "composition") {
      known(t, where, ["kind", "mode", "weight"]);
      const mode = oneOf(t.mode ?? "strict", `${where}.mode`, COMPOSITION_MODES);
      return { kind, mode, weight };
    }
    if (kind === "http") {
      known(t, where, ["kind", "url", "weight"]);
      const url = string(t.url, `${where}.url`);
      if (!URL.canParse(url)) throw new ConfigError(`${where}.url is not a URL: ${url}`);
      return { kind, url, weight };
    }
    known(t, where, ["kind", "weight"]);
    return { kind, weight };
  });
}

function advantage(s: Json): TrainConfig["advantage"] {
  known(s, "advantage", ["mode", "sum", "clip"]);
  const d = DEFAULTS.advantage;
  const mode = oneOf(
    s.mode ?? d.mode,
    "advantage.mode",
    ["group", "per-prompt-global-std", "step-aware"] as const,
  );
  const sum = boolean(s.sum ?? d.sum, "advantage.sum");
  if (sum && mode !== "step-aware") {
    throw new ConfigError(`advantage.sum applies to mode "step-aware" only, got mode "${mode}"`);
  }
  return { mode, sum, clip: positive(s.clip ?? d.clip, "advantage.clip") };
}

function objective(s: Json): TrainConfig["objective"] {
  known(s, "objective", ["clipRange", "klBeta", "klScale", "reduction"]);
  const d = DEFAULTS.objective;
  const klBeta = number(s.klBeta ?? d.klBeta, "objective.klBeta");
  if (klBeta < 0) throw new ConfigError(`objective.klBeta must be ≥ 0, got ${klBeta}`);
  return {
    clipRange: positive(s.clipRange ?? d.clipRange, "objective.clipRange"),
    klBeta,
    klScale: oneOf(
      s.klScale ?? d.klScale,
      "objective.klScale",
      ["step-std", "noise-scale"] as const,
    ),
    reduction: oneOf(s.reduction ?? d.reduction, "objective.reduction", ["mean", "sum"] as const),
  };
}

function optimizer(s: Json): TrainConfig["optimizer"] {
  known(s, "optimizer", [
    "lr",
    "betas",
    "weightDecay",
    "eps",
    "gradClip",
    "accumulation",
    "innerEpochs",
  ]);
  const d = DEFAULTS.optimizer;
  const betas = array(s.betas ?? d.betas, "optimizer.betas");
  if (betas.length !== 2) throw new ConfigError("optimizer.betas must hold two numbers");
  const [b1, b2] = betas.map((b, i) => number(b, `optimizer.betas[${i}]`));
  for (const [i, b] of [b1, b2].entries()) {
    if (!(b >= 0 && b < 1)) throw new ConfigError(`optimizer.betas[${i}] must lie in [0, 1)`);
  }
  const weightDecay = number(s.weightDecay ?? d.weightDecay, "optimizer.weightDecay");
  if (weightDecay < 0) throw new ConfigError("optimizer.weightDecay must be ≥ 0");
  return {
    lr: positive(s.lr ?? d.lr, "optimizer.lr"),
    betas: [b1, b2],
    weightDecay,
    eps: positive(s.eps ?? d.eps, "optimizer.eps"),
    gradClip: positive(s.gradClip ?? d.gradClip, "optimizer.gradClip"),
    accumulation: integer(s.accumulation ?? d.accumulation, "optimizer.accumulation", 1),
    innerEpochs: integer(s.innerEpochs ?? d.innerEpochs, "optimizer.innerEpochs", 1),
  };
}

function ema(s: Json): TrainConfig["ema"] {
  known(s, "ema", ["decay", "every"]);
  const decay = number(s.decay ?? DEFAULTS.ema.decay, "ema.decay");
  if (!(decay >= 0 && decay < 1)) throw new ConfigError(`ema.decay must lie in [0, 1)`);
  return { decay, every: integer(s.every ?? DEFAULTS.ema.every, "ema.every", 1) };
}

function train(s: Json): TrainConfig["train"] {
  known(s, "train", ["iterations", "seed", "checkpointEvery", "maxMinutes"]);
  const d = DEFAULTS.train;
  const seed = integer(s.seed ?? d.seed, "train.seed", 0);
  if (seed >= 2 ** 28) throw new ConfigError(`train.seed must be < 2^28, got ${seed}`);
  return {
    iterations: integer(s.iterations ?? d.iterations, "train.iterations", 1),
    seed,
    checkpointEvery: integer(s.checkpointEvery ?? d.checkpointEvery, "train.checkpointEvery", 1),
    maxMinutes: nonNegative(s.maxMinutes ?? d.maxMinutes, "train.maxMinutes"),
  };
}

function evaluation(s: Json): TrainConfig["eval"] {
  known(s, "eval", ["every", "steps", "prompts", "seedsPerPrompt", "seed"]);
  const d = DEFAULTS.eval;
  const steps = array(s.steps ?? d.steps, "eval.steps").map((k, i) =>
    integer(k, `eval.steps[${i}]`, 1)
  );
  if (steps.length === 0) throw new ConfigError("eval.steps must list at least one K");
  return {
    every: integer(s.every ?? d.every, "eval.every", 0),
    steps,
    prompts: integer(s.prompts ?? d.prompts, "eval.prompts", 1),
    seedsPerPrompt: integer(s.seedsPerPrompt ?? d.seedsPerPrompt, "eval.seedsPerPrompt", 1),
    seed: integer(s.seed ?? d.seed, "eval.seed", 0),
  };
}

function crossChecks(config: TrainConfig): void {
  const { anchor, stochasticSteps, prompts, groupSize, microBatch } = config.rollout;
  const kind = "random" in config.model
    ? (config.model.random === "meanflow" ? "two-time" : "one-time")
    : undefined;
  if (kind === "one-time" && anchor.kind !== "endpoint") {
    throw new ConfigError(
      `rollout.anchor.kind "${anchor.kind}" needs a two-time map; one-time maps use "endpoint"`,
    );
  }
  if (config.rollout.engine === "onnx" && anchor.kind === "naive-intermediate") {
    throw new ConfigError(
      'rollout.anchor.kind "naive-intermediate" runs in TF.js only: set rollout.engine "tfjs"',
    );
  }
  if (config.rollout.shift !== undefined && config.rollout.grid !== undefined) {
    throw new ConfigError("rollout.shift builds a grid; an explicit rollout.grid takes none");
  }
  if (config.advantage.mode === "step-aware" && stochasticSteps < 2) {
    throw new ConfigError("advantage.mode step-aware needs rollout.stochasticSteps ≥ 2");
  }
  if ((prompts * groupSize) % microBatch !== 0) {
    throw new ConfigError(
      `rollout.microBatch ${microBatch} must divide rollout.prompts × rollout.groupSize = ${
        prompts * groupSize
      }`,
    );
  }
}
