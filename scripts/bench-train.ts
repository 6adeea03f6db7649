/**
 * The trainer's headline benchmark (issue 7): Flow-Map GRPO on the bundled
 * models (MeanFlow and sCM, both with the endpoint anchor) —
 * one CPU run of at most 45 minutes each through `deno task train`, then a
 * markdown table of held-out strict accuracy (base vs trained, K = 1…4),
 * out-of-domain signals, trajectories per second and where the time went.
 *
 *     deno task bench-train [--configs a.json,b.json] [--minutes 45] [--parallel]
 *                           [--out runs/bench-train.md]
 *
 * `--parallel` runs the configs at the same time, each with a share of the
 * CPU and one OpenBLAS thread unless `FLOWMAP_BLAS_THREADS` is set, so the
 * processes do not oversubscribe the cores. A config whose base model file
 * is missing is reported as pending, never replaced by another model.
 *
 * @module
 */

import { join } from "node:path";
import { parseFlags, runCommand } from "../cli/command.ts";
import { number, readFlag } from "../cli/readers.ts";
import { exists } from "../cli/files.ts";
import { BLAS_THREADS_ENV } from "../kernels/blas.ts";
import { loadTrainConfig, type TrainConfig } from "../trainer/config.ts";
import type { EvalReport } from "../trainer/eval/table.ts";
import { readMetrics } from "../trainer/metrics.ts";
import { RunDirectory } from "../trainer/run_directory.ts";
import { trainTaskArgs } from "./bench/train_task.ts";

const HEADLINE = [
  "trainer/configs/shapes-meanflow.json",
  "trainer/configs/shapes-scm.json",
];

const HELP = `Usage: deno task bench-train [--configs a.json,b.json] [--minutes 45] [--parallel]
                             [--out runs/bench-train.md]

Runs Flow-Map GRPO (deno task train) on each config with a time budget, then
writes a markdown table: held-out strict and partial accuracy, base vs trained
at every evaluated K, out-of-domain signals, trajectories/s and time shares.

  --configs LIST  comma-separated config files (default: the two headline configs)
  --minutes M     training budget per run in minutes (default 45)
  --parallel      run the configs at the same time, one process each (one
                  OpenBLAS thread each unless FLOWMAP_BLAS_THREADS is set)
  --out FILE      where the table goes (default runs/bench-train.md)
  --help          show this help`;

/** What the command line asks for. */
interface Options {
  readonly configs: string;
  readonly minutes: number;
  readonly parallel: boolean;
  readonly out: string;
}

function parse(args: string[]): Options | "help" {
  const values = parseFlags(args, {
    configs: { type: "string", default: HEADLINE.join(",") },
    minutes: { type: "string", default: "45" },
    parallel: { type: "boolean", default: false },
    out: { type: "string", default: "runs/bench-train.md" },
    help: { type: "boolean", default: false },
  });
  if (values.help) return "help";
  const minutes = readFlag(number({ min: 0, open: "min" }), values.minutes, "--minutes");
  return { configs: values.configs, minutes, parallel: values.parallel, out: values.out };
}

/** Trains one config with the time budget in its own process; returns its section. */
async function bench(path: string, options: Options, root: string): Promise<string> {
  const { minutes, parallel } = options;
  const loaded = await loadTrainConfig(path);
  const config: TrainConfig = { ...loaded, train: { ...loaded.train, maxMinutes: minutes } };
  if ("onnx" in config.model) {
    if (!(await exists(config.model.onnx))) {
      console.log(`${config.name}: base model ${config.model.onnx} is missing — run pending`);
      return `## ${config.name}\n\nPending: the base model \`${config.model.onnx}\` is not in the repository yet.\n`;
    }
  }
  const configPath = join(root, `${config.name}.json`);
  const run = new RunDirectory(join(root, config.name));
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2) + "\n");
  const started = performance.now();
  const threads = Deno.env.get(BLAS_THREADS_ENV) ?? (parallel ? "1" : undefined);
  const child = new Deno.Command(Deno.execPath(), {
    args: [...await trainTaskArgs(), "--config", configPath, "--out", run.path],
    env: threads === undefined ? undefined : { [BLAS_THREADS_ENV]: threads },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream());
  for await (const chunk of lines) {
    for (const line of chunk.split("\n")) if (line.trim()) console.log(`${config.name} ${line}`);
  }
  const status = await child.status;
  if (!status.success) throw new Error(`${config.name}: training failed (exit ${status.code})`);
  return await section(config, run, (performance.now() - started) / 1000);
}

async function section(config: TrainConfig, run: RunDirectory, seconds: number): Promise<string> {
  const summary = JSON.parse(await Deno.readTextFile(run.summary)) as {
    iterations: number;
    evaluation: EvalReport;
    seconds: { rollout: number; reward: number; update: number; eval: number };
  };
  const metrics = await readMetrics(run.metrics);
  const trajectories = metrics.reduce((n, m) => n + m.trajectories, 0);
  const s = summary.seconds, report = summary.evaluation;
  const training = s.rollout + s.reward + s.update;
  const pct = (v: number) => (100 * v).toFixed(1);
  const share = (v: number) => `${v.toFixed(0)} s (${((100 * v) / seconds).toFixed(0)} %)`;
  const a = config.rollout.anchor;
  const anchor = a.kind === "local"
    ? `local (delta ${a.delta}, noise level ${a.noiseLevel})`
    : a.kind === "endpoint"
    ? `endpoint (eta ${a.eta})`
    : `naive intermediate (a = ${a.fraction}·s)`;
  const reward = config.reward.map((r) => r.kind + ("mode" in r ? `:${r.mode}` : "")).join(" + ");
  return [
    `## ${config.name}`,
    "",
    `Anchor ${anchor}; ${config.rollout.prompts} prompts × G = ${config.rollout.groupSize}, ` +
    `P = ${config.rollout.stochasticSteps}; reward ${reward}; ${summary.iterations} iterations in ` +
    `${(seconds / 60).toFixed(1)} min; run directory \`${run.path}\`.`,
    "",
    "| K | strict base | strict trained | Δ | partial base | partial trained | JPEG kB base | JPEG kB trained | diversity base | diversity trained |",
    "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ...report.rows.map(({ steps, base, trained }) =>
      `| ${steps} | ${pct(base.strict)} | ${pct(trained.strict)} | ${
        pct(trained.strict - base.strict)
      } | ` +
      `${pct(base.partial)} | ${pct(trained.partial)} | ${base.jpegKb.toFixed(3)} | ${
        trained.jpegKb.toFixed(3)
      } | ` +
      `${base.diversity.toFixed(4)} | ${trained.diversity.toFixed(4)} |`
    ),
    "",
    `Throughput: ${(trajectories / training).toFixed(2)} trajectories/s over rollout + reward + ` +
    `update (${trajectories} trajectories). Time: rollout ${share(s.rollout)}, reward ${
      share(s.reward)
    }, ` +
    `update ${share(s.update)}, evaluation ${share(s.eval)}.`,
    "",
  ].join("\n");
}

async function main(options: Options): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const root = `runs/bench-train-${stamp}`;
  await Deno.mkdir(root, { recursive: true });
  const paths = options.configs.split(",");
  const sections = options.parallel
    ? await Promise.all(paths.map((path) => bench(path, options, root)))
    : await paths.reduce<Promise<string[]>>(
      async (done, path) => [...await done, await bench(path, options, root)],
      Promise.resolve([]),
    );
  const header = [
    "# Flow-Map GRPO benchmark (trainer, issue 7)",
    "",
    `Command: \`deno task bench-train --minutes ${options.minutes}${
      options.parallel ? " --parallel" : ""
    }${options.configs === HEADLINE.join(",") ? "" : ` --configs ${options.configs}`}\` — ${
      new Date().toISOString()
    }, ${navigator.hardwareConcurrency} CPU threads.`,
    "Held-out prompts of the fixed split (`trainer/data/splits.ts`), deterministic K-step samplers",
    "through the SDK, the same seeds for base and trained (EMA adapter). Accuracies in %; JPEG in kB",
    "(quality 95, lower = more compressible); diversity = mean pairwise pixel distance between a",
    "prompt's seeds (0–1). Time shares are of the run's wall time.",
    "",
  ];
  await Deno.writeTextFile(options.out, header.join("\n") + "\n" + sections.join("\n"));
  // the committed results file must pass `deno fmt --check`
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", options.out] }).output();
  console.log(`wrote ${options.out}`);
}

if (import.meta.main) {
  Deno.exit(await runCommand("bench-train", Deno.args, { help: HELP, parse, run: main }));
}
