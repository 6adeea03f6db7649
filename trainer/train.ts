/**
 * `deno task train`: Flow-Map GRPO post-training from a config file.
 *
 *     deno task train --config trainer/configs/shapes-meanflow.json [--out runs/<id>] [--resume]
 *
 * Ctrl-C finishes the current iteration, saves a checkpoint and exits; a
 * second Ctrl-C exits at once (the last checkpoint stays valid).
 *
 * @module
 */

import { threadsFromEnv } from "../kernels/blas.ts";
import { ExpectedError, parseFlags, runCommand, UsageError } from "../cli/command.ts";
import { type BackendRequest, parseBackendRequest, selectBackend } from "./backend.ts";
import { fieldDocs } from "../cli/fields.ts";
import { readFlag } from "../cli/readers.ts";
import { loadTrainConfig, TRAIN_CONFIG } from "./config.ts";
import { RewardError } from "./rewards/reward.ts";
import { Trainer } from "./run.ts";
import { loadBaseModel } from "./setup.ts";

const HELP = `Flow-Map GRPO trainer (docs/math.md §5–6)

usage: deno task train --config <file.json> [--out <dir>] [--resume] [--backend <name>]
                       [--workers <n>]

  --config <file>   run configuration (see trainer/configs/)
  --out <dir>       run directory (default: runs/<config name>-<UTC timestamp>)
  --resume          continue the run in --out from its checkpoint
  --backend <name>  auto | tensorflow-gpu | tensorflow | blas | cpu (default auto)
  --workers <n>     threads sharing each iteration (train.workers; e.g. one per core)
  --help            this text

The run directory receives config.json, metrics.jsonl, checkpoint.safetensors,
adapter.safetensors (the EMA adapter), eval.md/eval.json, samples.png,
reward-curve.png and summary.json. Ctrl-C saves a checkpoint and exits.

FLOWMAP_BLAS_THREADS sets the threads of OpenBLAS and of the ONNX Runtime
rollout sessions (e.g. 1 per process when two runs share a machine); with
more than one worker each uses one thread.

Config fields (path: what it must be, default. meaning; <kind> marks a variant):

${fieldDocs(TRAIN_CONFIG).map((line) => `  ${line}`).join("\n")}`;

/** What the command line asks for. */
interface Command {
  readonly config: string;
  readonly out: string | undefined;
  readonly resume: boolean;
  readonly backend: BackendRequest;
  readonly workers: number | undefined;
}

function parse(args: string[]): Command | "help" {
  const values = parseFlags(args, {
    config: { type: "string" },
    out: { type: "string" },
    resume: { type: "boolean", default: false },
    backend: { type: "string", default: "auto" },
    workers: { type: "string" },
    help: { type: "boolean", default: false },
  });
  if (values.help) return "help";
  if (values.config === undefined) {
    throw new UsageError("--config <file.json> is required (see --help)");
  }
  if (values.resume && values.out === undefined) {
    throw new UsageError("--resume needs --out <run directory>");
  }
  return {
    config: values.config,
    out: values.out,
    resume: values.resume,
    backend: parseBackendRequest(values.backend),
    workers: readFlag(TRAIN_CONFIG.train.type.schema.workers.type, values.workers, "--workers"),
  };
}

async function run(command: Command): Promise<void> {
  const loaded = await loadTrainConfig(command.config);
  const workers = command.workers ?? loaded.train.workers;
  const config = { ...loaded, train: { ...loaded.train, workers } };
  const backend = await selectBackend(command.backend, (m) => console.log(m), {
    blasThreads: workers > 1 ? 1 : undefined,
  });
  const base = await loadBaseModel(config.model);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const outDir = command.out ?? `runs/${config.name}-${stamp}`;
  const trainer = await Trainer.create(config, base, {
    outDir,
    resume: command.resume,
    log: (line) => console.log(line),
    rolloutThreads: threadsFromEnv(),
    backend: backend.name,
  });
  console.log(
    `run ${outDir}: ${base.config.kind} model (${base.description}), ` +
      `backend ${backend.name}, ${workers} worker(s), from iteration ${trainer.iteration}`,
  );
  const cores = navigator.hardwareConcurrency;
  if (workers === 1 && cores > 1) {
    console.log(
      `note: one worker on ${cores} cores; --workers ${cores} shares each iteration between ` +
        "them, the same run to float rounding (docs/benchmarks.md has the speed-up)",
    );
  }
  const onInterrupt = () => {
    if (trainer.stopRequested) Deno.exit(130);
    console.log("interrupt: finishing this iteration, then saving (Ctrl-C again to quit now)");
    trainer.requestStop();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    const summary = await trainer.run();
    console.log(
      summary.interrupted || summary.iterations < config.train.iterations
        ? `stopped after iteration ${summary.iterations}; resume with --resume --out ${outDir}`
        : `done: ${summary.iterations} iterations; adapter ${outDir}/adapter.safetensors`,
    );
  } catch (error) {
    if (!(error instanceof RewardError)) throw error;
    throw new ExpectedError(error.message, {
      hint: "(the last checkpoint is kept: --resume)",
      cause: error,
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    await trainer.dispose();
  }
}

/** Parses arguments, runs training, and returns the process exit code. */
export function main(args: readonly string[]): Promise<number> {
  return runCommand("train", args, { help: HELP, parse, run });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
