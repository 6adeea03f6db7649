/**
 * Does a trained adapter improve the served model? Generates with the SDK's
 * deterministic samplers, base and adapter(s) on the same seeds, on two
 * prompt sets: training prompts with seeds the trainer never draws (does RL
 * optimise its reward?) and the held-out prompts (does it generalise?).
 * Prints a markdown table of strict accuracy per K with its standard error,
 * and the reward-hacking checks beside it (diversity, JPEG size).
 *
 *     deno task eval-adapter --model src/models/shapes-meanflow/model.onnx \
 *       --adapter composition=runs/a/adapter.safetensors --adapter random=runs/b/adapter.safetensors
 *
 * @module
 */

import { parseFlags, runCommand } from "../cli/command.ts";
import {
  type EvalAtSteps,
  type EvalPlan,
  evaluateSampler,
  heldOutPrompts,
  spreadPrompts,
} from "../trainer/eval/evaluate.ts";
import { type ImageSampler, servedModel } from "../trainer/eval/sampler.ts";

const HELP = `Usage: deno task eval-adapter --model FILE --adapter NAME=FILE [options]

Evaluates base against adapters with the SDK's deterministic samplers on two
prompt sets, the same seeds for every model, and prints a markdown table.

  --model FILE          base model (.onnx, its .bin next to it)
  --adapter NAME=FILE   a LoRA adapter (safetensors) to compare; repeatable
  --prompts N           prompts per set (default 256), evenly spaced over the split
  --seeds S             seeds per prompt (default 2); images per K = N × S per set
  --steps LIST          K values (default 1,2,3,4)
  --seed S              first seed (default 2000000; training rollouts and the
                        trainer's own evaluation never use seeds this large)
  --help                show this help`;

interface Command {
  readonly model: string;
  readonly adapters: readonly { name: string; path: string }[];
  readonly prompts: number;
  readonly seeds: number;
  readonly steps: readonly number[];
  readonly seed: number;
}

function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`${flag} must be a positive integer, got "${text}"`);
  }
  return value;
}

function parse(args: string[]): Command | "help" {
  const values = parseFlags(args, {
    model: { type: "string" },
    adapter: { type: "string", multiple: true, default: [] },
    prompts: { type: "string", default: "256" },
    seeds: { type: "string", default: "2" },
    steps: { type: "string", default: "1,2,3,4" },
    seed: { type: "string", default: "2000000" },
    help: { type: "boolean", default: false },
  });
  if (values.help) return "help";
  if (values.model === undefined) throw new Error("--model is required");
  if (values.adapter.length === 0) throw new Error("at least one --adapter NAME=FILE is required");
  const adapters = values.adapter.map((spec) => {
    const at = spec.indexOf("=");
    if (at < 1 || at === spec.length - 1) {
      throw new Error(`--adapter must be NAME=FILE, got "${spec}"`);
    }
    return { name: spec.slice(0, at), path: spec.slice(at + 1) };
  });
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(`--seed must be a non-negative integer, got "${values.seed}"`);
  }
  return {
    model: values.model,
    adapters,
    prompts: positiveInteger(values.prompts, "--prompts"),
    seeds: positiveInteger(values.seeds, "--seeds"),
    steps: values.steps.split(",").map((k) => positiveInteger(k.trim(), "--steps")),
    seed,
  };
}

async function run(command: Command): Promise<void> {
  const served = await servedModel(command.model);
  const samplers: { name: string; sampler: ImageSampler }[] = [
    { name: "base", sampler: served.base },
  ];
  for (const { name, path } of command.adapters) {
    samplers.push({ name, sampler: await served.withAdapter(await Deno.readFile(path)) });
  }
  const sets = [
    { name: "training prompts, fresh seeds", prompts: spreadPrompts("train", command.prompts) },
    { name: "held-out prompts", prompts: heldOutPrompts(command.prompts) },
  ];
  console.log(
    `model ${command.model}; ${command.prompts} prompts × ${command.seeds} seeds per set`,
  );
  console.log();
  console.log("| set | model | K | strict (± s.e.) | Δ strict | partial | diversity | JPEG kB |");
  console.log("| --- | --- | -: | --: | --: | --: | --: | --: |");
  for (const set of sets) {
    const plan: EvalPlan = {
      prompts: set.prompts,
      seedsPerPrompt: command.seeds,
      seed: command.seed,
      steps: command.steps,
      batch: 64,
    };
    let base: EvalAtSteps[] | undefined;
    for (const { name, sampler } of samplers) {
      const results = await evaluateSampler(sampler, plan);
      base ??= results;
      for (const [i, { steps, scores, images }] of results.entries()) {
        const se = Math.sqrt(scores.strict * (1 - scores.strict) / images.length);
        const delta = name === "base" ? "" : signed(100 * (scores.strict - base[i].scores.strict));
        console.log(
          `| ${set.name} | ${name} | ${steps} | ${pct(scores.strict)} ± ${pct(se)} | ${delta} | ` +
            `${pct(scores.partial)} | ${scores.diversity.toFixed(3)} | ${
              scores.jpegKb.toFixed(2)
            } |`,
        );
      }
    }
  }
  for (const { sampler } of samplers) await sampler.dispose();
}

const pct = (value: number) => (100 * value).toFixed(1);
const signed = (value: number) => (value >= 0 ? "+" : "") + value.toFixed(1);

Deno.exit(await runCommand("eval-adapter", Deno.args, { help: HELP, parse, run }));
