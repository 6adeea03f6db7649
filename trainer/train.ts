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

import { parseArgs } from "node:util";
import { threadsFromEnv } from "../kernels/blas.ts";
import { BackendUnavailableError, parseBackendRequest, selectBackend } from "./backend.ts";
import { ConfigError, loadTrainConfig } from "./config.ts";
import { RewardError } from "./rewards/reward.ts";
import { Trainer } from "./run.ts";
import { buildReward, loadBaseModel } from "./setup.ts";

const HELP = `Flow-Map GRPO trainer (docs/math.md §5–6)

usage: deno task train --config <file.json> [--out <dir>] [--resume] [--backend <name>]

  --config <file>   run configuration (see trainer/configs/)
  --out <dir>       run directory (default: runs/<config name>-<UTC timestamp>)
  --resume          continue the run in --out from its checkpoint
  --backend <name>  auto | tensorflow-gpu | tensorflow | blas | cpu (default auto)
  --help            this text

The run directory receives config.json, metrics.jsonl, checkpoint.safetensors,
adapter.safetensors (the EMA adapter), eval.md/eval.json, samples.png,
reward-curve.png and summary.json. Ctrl-C saves a checkpoint and exits.

FLOWMAP_BLAS_THREADS sets the threads of OpenBLAS and of the ONNX Runtime
rollout sessions (e.g. 1 per process when two runs share a machine).`;

/** Parses arguments, runs training, and returns the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        config: { type: "string" },
        out: { type: "string" },
        resume: { type: "boolean", default: false },
        backend: { type: "string", default: "auto" },
        help: { type: "boolean", default: false },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`train: ${(error as Error).message} (see --help)`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.config === undefined) {
    console.error("train: --config <file.json> is required (see --help)");
    return 2;
  }
  if (values.resume && values.out === undefined) {
    console.error("train: --resume needs --out <run directory>");
    return 2;
  }
  try {
    const config = await loadTrainConfig(values.config);
    const backend = await selectBackend(parseBackendRequest(values.backend), (m) => console.log(m));
    const base = await loadBaseModel(config.model);
    const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
    const outDir = values.out ?? `runs/${config.name}-${stamp}`;
    const trainer = await Trainer.create(config, base, {
      outDir,
      resume: values.resume,
      reward: buildReward(config.reward),
      log: (line) => console.log(line),
      rolloutThreads: threadsFromEnv(),
    });
    console.log(
      `run ${outDir}: ${base.config.kind} model (${base.description}), ` +
        `backend ${backend.name}, from iteration ${trainer.iteration}`,
    );
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
    } finally {
      Deno.removeSignalListener("SIGINT", onInterrupt);
      await trainer.dispose();
    }
    return 0;
  } catch (error) {
    // config, backend, reward and resume problems are one line; anything else keeps its stack
    const expected = error instanceof ConfigError || error instanceof BackendUnavailableError ||
      error instanceof RewardError || (error as Error).message?.startsWith("cannot resume");
    const hint = error instanceof RewardError ? " (the last checkpoint is kept: --resume)" : "";
    console.error(`train: ${expected ? (error as Error).message : (error as Error).stack}${hint}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
