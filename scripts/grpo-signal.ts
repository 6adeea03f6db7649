/**
 * How much consistent direction does one GRPO batch carry? For a training
 * config, draws `--batches` independent rollouts on the base model (LoRA
 * off, as at the start of a run), takes each one's policy gradient of the
 * GRPO objective, and reports the mean pairwise cosine between them: the
 * share of a batch gradient's squared norm that is signal shared across
 * batches (0 = pure noise). An optional line search then steps the adapter
 * along the mean gradient and scores fixed-seed rollouts, showing how far
 * that direction improves the training reward before the images degrade.
 *
 *     deno task grpo-signal --config trainer/configs/shapes-meanflow.json
 *                           [--batches 16] [--line-search 0,1,3,10]
 *
 * Used to choose rollout settings (issue 7; README "Headline runs").
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { parseFlags, runCommand, UsageError } from "../cli/command.ts";
import { integer, list, number, readFlag } from "../cli/readers.ts";
import { computeAdvantages } from "../trainer/advantages.ts";
import { parseBackendRequest, selectBackend } from "../trainer/backend.ts";
import { loadTrainConfig, type TrainConfig } from "../trainer/config.ts";
import { splitPrompts } from "../trainer/data/splits.ts";
import { LoraAdapter } from "../trainer/model/lora.ts";
import { TfFlowMap } from "../trainer/model/tfjs.ts";
import { FlowMapPolicy, rolloutGrid } from "../trainer/policy.ts";
import type { Reward } from "../trainer/rewards/reward.ts";
import {
  kRepeatPrompts,
  rollout,
  rolloutOptions,
  scoreRollout,
  tfjsRolloutMaps,
} from "../trainer/rollout.ts";
import { buildReward, loadBaseModel } from "../trainer/setup.ts";
import { updatePolicy } from "../trainer/update.ts";

const HELP = `Usage: deno task grpo-signal --config FILE [--batches N] [--line-search LIST]

Measures the signal in GRPO policy gradients of a training config on its
base model: N independent rollouts (the config's prompts × group size each),
one gradient each, and their mean pairwise cosine ± standard error; also the
share of the rewards' variance that lies within groups.

  --config FILE        training config (its model, rollout, reward, objective)
  --batches N          independent rollouts (default 16, at least 2)
  --line-search LIST   comma-separated LoRA displacements (L2 norm) along the
                       mean gradient; each is scored on 2 × 256 fixed-seed
                       rollouts of training prompts (default: no line search)
  --seed S             seed of prompts and noise (default 7)
  --help               show this help`;

/** Seed of the line search's fixed scoring rollouts (distinct from the gradient batches). */
const SCORE_SEED = 99;

/** What the command line asks for. */
interface Options {
  readonly config: string;
  readonly batches: number;
  readonly seed: number;
  readonly steps: number[];
}

function parse(args: string[]): Options | "help" {
  const values = parseFlags(args, {
    config: { type: "string" },
    batches: { type: "string", default: "16" },
    "line-search": { type: "string" },
    seed: { type: "string", default: "7" },
    help: { type: "boolean", default: false },
  });
  if (values.help) return "help";
  if (values.config === undefined) throw new UsageError("--config is required");
  const lineSearch = values["line-search"];
  return {
    config: values.config,
    batches: readFlag(integer({ min: 2 }), values.batches, "--batches"),
    seed: readFlag(integer({ min: 0 }), values.seed, "--seed"),
    steps: lineSearch === undefined
      ? []
      : readFlag(list(number({ min: 0 })), lineSearch, "--line-search"),
  };
}

/** Sums the gradients `updatePolicy` hands to its optimiser instead of stepping. */
class GradientSum {
  sums: Float64Array[] = [];
  stepCount = 0;
  add(grads: readonly ArrayLike<number>[], weight: number): void {
    if (this.sums.length === 0) this.sums = grads.map((g) => new Float64Array(g.length));
    grads.forEach((g, i) => this.sums[i].forEach((_, j) => this.sums[i][j] += weight * g[j]));
  }
  step(): number {
    this.stepCount += 1;
    return 0;
  }
}

/** The pieces every measurement shares. */
interface Setup {
  readonly config: TrainConfig;
  readonly policy: FlowMapPolicy;
  readonly adapter: LoraAdapter;
  readonly reward: Reward;
}

/** The gradient of the GRPO objective over one rollout, flattened in variable order. */
async function batchGradient(setup: Setup, seed: number, iteration: number) {
  const { config, policy, adapter } = setup;
  const r = config.rollout;
  const prompts = kRepeatPrompts(splitPrompts("train"), r.prompts, r.groupSize, {
    seed,
    iteration,
  });
  const { data, rewards, stepRewards } = await scoreRollout(
    setup.reward,
    await rollout(
      policy,
      tfjsRolloutMaps(policy, adapter),
      rolloutOptions(config, { prompts, seed, iteration }),
    ),
  );
  const advantages = computeAdvantages(
    { rewards, prompts, stepRewards, stochasticSteps: r.stochasticSteps },
    config.advantage,
  );
  const sink = new GradientSum();
  await updatePolicy(
    {
      policy,
      adapter,
      optimizer: sink,
      ema: { update: () => false },
      objective: config.objective,
      microBatch: r.microBatch,
      accumulation: prompts.length / r.microBatch,
      innerEpochs: 1,
      seed,
      iteration,
    },
    data,
    advantages,
  );
  const gradient = new Float64Array(adapter.variables.reduce((n, v) => n + v.size, 0));
  adapter.variables.reduce((offset, v, i) => {
    gradient.set(sink.sums[i] ?? new Float64Array(v.size), offset);
    return offset + v.size;
  }, 0);
  return {
    gradient,
    reward: rewards.reduce((a, b) => a + b, 0) / rewards.length,
    within: withinGroupShare(rewards, r.groupSize),
  };
}

/** Share of the rewards' variance that lies within groups (consecutive runs of `groupSize`). */
function withinGroupShare(rewards: Float32Array, groupSize: number): number {
  const mean = (values: Float32Array) => values.reduce((a, b) => a + b, 0) / values.length;
  const all = mean(rewards);
  let total = 0, within = 0;
  for (let start = 0; start < rewards.length; start += groupSize) {
    const group = rewards.subarray(start, start + groupSize), m = mean(group);
    for (const r of group) {
      total += (r - all) ** 2;
      within += (r - m) ** 2;
    }
  }
  return total > 0 ? within / total : 0;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

async function main(options: Options): Promise<void> {
  const config = await loadTrainConfig(options.config);
  await selectBackend(parseBackendRequest("auto"), (m) => console.log(m));
  const base = await loadBaseModel(config.model);
  const model = new TfFlowMap(base.config, base.parameters, { trainable: false });
  const grid = rolloutGrid(base.info, config.rollout);
  const setup: Setup = {
    config,
    policy: new FlowMapPolicy(model, config.rollout.anchor, grid),
    adapter: new LoraAdapter(base.config, config.lora),
    reward: buildReward(config.reward),
  };
  const perBatch = config.rollout.prompts * config.rollout.groupSize;
  console.log(
    `${config.name}: grid [${setup.policy.grid.map((t) => t.toFixed(3)).join(", ")}], ` +
      `${options.batches} batches of ${perBatch} trajectories`,
  );
  const gradients: Float64Array[] = [];
  let within = 0;
  const started = performance.now();
  for (let b = 0; b < options.batches; b++) {
    const result = await batchGradient(setup, options.seed, b);
    gradients.push(result.gradient);
    within += result.within / options.batches;
    const rate = ((b + 1) * perBatch) / ((performance.now() - started) / 1000);
    console.log(
      `batch ${b + 1}/${options.batches}: reward ${result.reward.toFixed(3)}, ` +
        `${rate.toFixed(1)} traj/s`,
    );
  }
  const cosines: number[] = [];
  for (let i = 0; i < gradients.length; i++) {
    for (let j = i + 1; j < gradients.length; j++) {
      const [a, b] = [gradients[i], gradients[j]];
      cosines.push(dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b)));
    }
  }
  const mean = cosines.reduce((a, b) => a + b, 0) / cosines.length;
  const sd = Math.sqrt(cosines.reduce((a, b) => a + (b - mean) ** 2, 0) / cosines.length);
  console.log(
    `mean pairwise cosine ${mean.toFixed(4)} ± ${(sd / Math.sqrt(cosines.length)).toFixed(4)} ` +
      `(${cosines.length} pairs; the ± treats pairs as independent, so it is optimistic)`,
  );
  console.log(`reward variance within groups: ${(100 * within).toFixed(0)} % (mean over batches)`);
  if (options.steps.length > 0) await lineSearch(setup, gradients, options.steps);
}

/** Scores the adapter displaced by `c · (−mean gradient)/‖mean gradient‖` for each c. */
async function lineSearch(setup: Setup, gradients: Float64Array[], steps: number[]) {
  const direction = new Float64Array(gradients[0].length);
  for (const g of gradients) for (let i = 0; i < g.length; i++) direction[i] -= g[i];
  const norm = Math.sqrt(dot(direction, direction));
  const variables = setup.adapter.variables;
  const start = variables.map((v) => v.dataSync().slice() as Float32Array);
  const prompts = kRepeatPrompts(splitPrompts("train"), 32, 8, { seed: SCORE_SEED, iteration: 0 });
  for (const c of steps) {
    let offset = 0;
    variables.forEach((v, k) => {
      const values = start[k].map((x, i) => x + (c * direction[offset + i]) / norm);
      const value = tf.tensor(values, v.shape);
      v.assign(value);
      value.dispose();
      offset += v.size;
    });
    let total = 0;
    for (const iteration of [0, 1]) {
      const { rewards } = await scoreRollout(
        setup.reward,
        await rollout(
          setup.policy,
          tfjsRolloutMaps(setup.policy, setup.adapter),
          rolloutOptions(setup.config, { prompts, seed: SCORE_SEED, iteration }),
        ),
      );
      total += rewards.reduce((a, b) => a + b, 0) / rewards.length / 2;
    }
    console.log(
      `displacement ${c}: training reward ${total.toFixed(4)} (same seeds at every step)`,
    );
  }
}

if (import.meta.main) {
  Deno.exit(await runCommand("grpo-signal", Deno.args, { help: HELP, parse, run: main }));
}
