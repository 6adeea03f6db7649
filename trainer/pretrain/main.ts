/**
 * `deno task pretrain`: trains the shapes world's flow-matching teacher,
 * distils it into the bundled MeanFlow (two-time) and sCM (one-time) maps,
 * evaluates them on held-out prompts and writes the bundles.
 *
 * @module
 */

import { type BackendRequest, parseBackendRequest, selectBackend } from "../backend.ts";
import { parseFlags, runCommand } from "../../cli/command.ts";
import { integer, list, number, oneOf, readFlag } from "../../cli/readers.ts";
import { exampleSeed } from "./batches.ts";
import { runBundle, runEvaluate } from "./bundle.ts";
import { type PretrainSettings, runStudent, runTeacher, runTrajectories } from "./stages.ts";

const STAGES = ["teacher", "trajectories", "meanflow", "scm", "evaluate", "bundle"] as const;
type Stage = typeof STAGES[number];

const HELP = `Usage: deno task pretrain [options]

Pretrains the bundled shapes models (issue 5): a rectified-flow teacher with
prompt dropout, guided teacher ODE trajectories, then a MeanFlow student and
an sCM student regressed on those trajectories; evaluates them on held-out
prompts through the SDK sampler and writes src/models/shapes-{meanflow,scm}.

  --stage S          teacher | trajectories | meanflow | scm | evaluate | bundle | all (default all)
  --out DIR          run directory (default runs/pretrain)
  --resume           continue each stage from its checkpoint / existing outputs
  --minutes M        wall-clock budget of each training stage (defaults: teacher 60, students 25)
  --steps N          step budget of each training stage (default: unlimited)
  --batch B          batch size (default 32)
  --lr X             peak learning rate (defaults: teacher 1.2e-3, students 2e-4)
  --seed S           run seed (default 0)
  --dropout P        teacher prompt dropout for guidance (default 0.1)
  --time-mean M      mean of the teacher's logit-normal t; positive favours noise (default 0.8)
  --trajectories N   number of guided teacher trajectories (default 4096)
  --ode-steps N      Euler steps of the teacher ODE (default 16)
  --guidance LIST    guidance scales swept on training prompts (default 1,2,3,4)
  --eval-prompts N   held-out prompts evaluated per K (default 256)
  --models DIR       where bundle writes the models (default src/models)
  --backend NAME     auto | tensorflow-gpu | tensorflow | blas | cpu (default auto)
  -h, --help         this text

OpenBLAS threads: FLOWMAP_BLAS_THREADS (e.g. 1 per process when running the
two students side by side).`;

const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

interface Command {
  readonly stage: Stage | "all";
  readonly settings: PretrainSettings;
  readonly evalPrompts: number;
  readonly backend: BackendRequest;
  readonly models: string;
}

function parseCommand(args: string[]): Command | "help" {
  const values = parseFlags(args, {
    stage: { type: "string", default: "all" },
    out: { type: "string", default: "runs/pretrain" },
    resume: { type: "boolean", default: false },
    minutes: { type: "string" },
    steps: { type: "string" },
    batch: { type: "string", default: "32" },
    lr: { type: "string" },
    seed: { type: "string", default: "0" },
    dropout: { type: "string", default: "0.1" },
    "time-mean": { type: "string", default: "0.8" },
    trajectories: { type: "string", default: "4096" },
    "ode-steps": { type: "string", default: "16" },
    guidance: { type: "string", default: "1,2,3,4" },
    "eval-prompts": { type: "string", default: "256" },
    models: { type: "string", default: "src/models" },
    backend: { type: "string", default: "auto" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) return "help";
  const stage = readFlag(oneOf([...STAGES, "all"] as const), values.stage, "--stage");
  const count = integer({ min: 0 }), size = number({ min: 0 });
  const settings: PretrainSettings = {
    out: values.out,
    seed: readFlag(count, values.seed, "--seed"),
    resume: values.resume,
    batch: readFlag(count, values.batch, "--batch"),
    lr: readFlag(size, values.lr, "--lr"),
    minutes: readFlag(size, values.minutes, "--minutes"),
    steps: readFlag(count, values.steps, "--steps") ?? Infinity,
    dropout: readFlag(size, values.dropout, "--dropout"),
    timeMean: readFlag(number(), values["time-mean"], "--time-mean"),
    trajectories: readFlag(count, values.trajectories, "--trajectories"),
    odeSteps: readFlag(count, values["ode-steps"], "--ode-steps"),
    guidance: readFlag(list(size), values.guidance, "--guidance"),
    log,
  };
  exampleSeed(settings.seed, 0);
  return {
    stage,
    settings,
    evalPrompts: readFlag(count, values["eval-prompts"], "--eval-prompts"),
    backend: parseBackendRequest(values.backend),
    models: values.models,
  };
}

async function run({ stage, settings, evalPrompts, backend, models }: Command): Promise<void> {
  await Deno.mkdir(settings.out, { recursive: true });
  await selectBackend(backend, log);
  const runs = (s: Stage) => stage === "all" || stage === s;
  if (runs("teacher")) await runTeacher(settings);
  if (runs("trajectories")) await runTrajectories(settings);
  if (runs("meanflow")) await runStudent(settings, "meanflow");
  if (runs("scm")) await runStudent(settings, "scm");
  if (runs("evaluate")) await runEvaluate(settings, evalPrompts);
  if (runs("bundle")) await runBundle(settings, models);
}

if (import.meta.main) {
  Deno.exit(await runCommand("pretrain", Deno.args, { help: HELP, parse: parseCommand, run }));
}
