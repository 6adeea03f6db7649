/**
 * Trajectories per second of `deno task train` with one worker and with two
 * (issue 18, `train.workers`), on the MeanFlow headline config: each run a
 * fresh `train` process (the `train` task's own command line), its first
 * iteration a warm-up, then `--iterations` timed ones from its
 * `metrics.jsonl` (rollout + reward + update, as `train` reports them). The
 * settings alternate within every round, so each round's ratios compare runs
 * made back to back; two independent one-thread runs side by side give the
 * ceiling two workers can reach. Beside each run: the CPU cores it used and those
 * other processes used meanwhile (`/proc/stat`), since a shared machine
 * lowers the two-worker figure first. `--write` puts the table into
 * docs/benchmarks.md between the `bench-workers` markers. Run `--help` for
 * options.
 *
 * @module
 */

import { join } from "node:path";
import { parseFlags, runCommand } from "../cli/command.ts";
import { trainTaskArgs } from "./bench/train_task.ts";
import { integer, readFlag } from "../cli/readers.ts";
import { BLAS_THREADS_ENV } from "../kernels/blas.ts";
import { readMetrics } from "../trainer/metrics.ts";
import { writeDocsSection } from "./bench/docs_section.ts";
import { cpuModel, loadAverage } from "./bench/machine.ts";

const HELP = `Usage: deno task bench-workers [options]

Runs \`deno task train\` on the config with 1 worker (library thread defaults),
1 worker with one thread, 2 workers, and two one-thread runs side by side (the
ceiling for two workers), alternating, and reports trajectories/s (rollout +
reward + update) with the machine's load.

Options:
  --config FILE     training config (default trainer/configs/shapes-meanflow.json)
  --rounds N        alternating rounds (default 3)
  --iterations N    timed iterations per run, after one warm-up (default 3)
  --write           write the table into docs/benchmarks.md
  --help            show this help`;

/** One setting measured. */
interface Setting {
  /** As the table shows it. */
  readonly label: string;
  /** `--workers`. */
  readonly workers: number;
  /** Extra environment of the `train` process. */
  readonly env: Readonly<Record<string, string>>;
  /** Processes run side by side (their trajectories/s and cores add up). */
  readonly copies: number;
}

const DEFAULT_CONFIG = "trainer/configs/shapes-meanflow.json";

const ONE_THREAD = { [BLAS_THREADS_ENV]: "1" };

const SETTINGS: readonly Setting[] = [
  { label: "1 worker, library threads", workers: 1, env: {}, copies: 1 },
  { label: "1 worker, 1 thread", workers: 1, env: ONE_THREAD, copies: 1 },
  { label: "2 workers", workers: 2, env: {}, copies: 1 },
  { label: "two 1-thread runs side by side", workers: 1, env: ONE_THREAD, copies: 2 },
];

interface Options {
  readonly config: string;
  readonly rounds: number;
  readonly iterations: number;
  readonly write: boolean;
}

function parse(args: string[]): Options | "help" {
  const values = parseFlags(args, {
    config: { type: "string", default: DEFAULT_CONFIG },
    rounds: { type: "string", default: "3" },
    iterations: { type: "string", default: "3" },
    write: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
  if (values.help) return "help";
  const count = integer({ min: 1 });
  return {
    config: values.config,
    rounds: readFlag(count, values.rounds, "--rounds"),
    iterations: readFlag(count, values.iterations, "--iterations"),
    write: values.write,
  };
}

/** One run's figures. */
interface Sample {
  /** Trajectories per second over the timed iterations. */
  readonly throughput: number;
  /** Cores the `train` process kept busy during the timed iterations. */
  readonly cores: number;
  /** Cores other processes kept busy meanwhile. */
  readonly others: number;
}

/** CPU time counters (clock ticks): the machine's busy and total, and one process's. */
interface CpuTicks {
  readonly busy: number;
  readonly total: number;
  readonly process: number;
}

async function cpuTicks(pid: number): Promise<CpuTicks> {
  const [machine] = (await Deno.readTextFile("/proc/stat")).split("\n");
  const fields = machine.trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = fields[3] + fields[4];
  const total = fields.reduce((a, b) => a + b, 0);
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // fields after the command's closing parenthesis; utime and stime are the 14th and 15th
  const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { busy: total - idle, total, process: Number(after[11]) + Number(after[12]) };
}

/**
 * Runs `setting`: its processes side by side, their trajectories/s and cores
 * summed; each counts the other's cores among the others', which are taken out.
 */
async function measureSetting(setting: Setting, options: Options, root: string): Promise<Sample> {
  const runs = await Promise.all(
    Array.from({ length: setting.copies }, () => measure(setting, options, root)),
  );
  const cores = runs.reduce((n, r) => n + r.cores, 0);
  const others = runs.reduce((n, r) => n + r.others - (cores - r.cores), 0) / runs.length;
  return {
    throughput: runs.reduce((n, r) => n + r.throughput, 0),
    cores,
    others: Math.max(0, others),
  };
}

/** Runs `train` with `setting` for one warm-up and `iterations` timed iterations. */
async function measure(setting: Setting, options: Options, root: string): Promise<Sample> {
  const out = join(root, `${setting.workers}-${crypto.randomUUID().slice(0, 8)}`);
  const args = [
    ...await trainTaskArgs(),
    ...["--config", options.config, "--out", out, "--workers", String(setting.workers)],
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: setting.env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let seen = 0, start: CpuTicks | undefined, end: CpuTicks | undefined;
  const lines = child.stdout.pipeThrough(new TextDecoderStream());
  for await (const chunk of lines) {
    for (const line of chunk.split("\n").filter((l) => l.startsWith("it "))) {
      seen += 1;
      console.log(`  ${setting.label}: ${line}`);
      if (seen === 1) start = await cpuTicks(child.pid);
      if (seen === options.iterations + 1) {
        end = await cpuTicks(child.pid);
        child.kill("SIGTERM"); // metrics.jsonl already holds the iterations
      }
    }
  }
  await child.status;
  if (!start || !end) throw new Error(`${setting.label}: train stopped after ${seen} iterations`);
  const timed = (await readMetrics(join(out, "metrics.jsonl"))).slice(1, options.iterations + 1);
  const seconds = timed.reduce(
    (s, m) => s + m.seconds.rollout + m.seconds.reward + m.seconds.update,
    0,
  );
  const trajectories = timed.reduce((n, m) => n + m.trajectories, 0);
  const cores = navigator.hardwareConcurrency / (end.total - start.total);
  const own = (end.process - start.process) * cores;
  return {
    throughput: trajectories / seconds,
    cores: own,
    others: (end.busy - start.busy) * cores - own,
  };
}

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: readonly number[]) => {
  const s = sorted(xs);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const spread = (xs: readonly number[], digits: number) =>
  [sorted(xs)[0], median(xs), sorted(xs).at(-1)!].map((x) => x.toFixed(digits)).join(" / ");

async function run(options: Options): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "bench-workers-" });
  const loadBefore = await loadAverage();
  const samples = SETTINGS.map(() => [] as Sample[]);
  try {
    for (let round = 0; round < options.rounds; round++) {
      console.log(`round ${round + 1}/${options.rounds} (load average ${await loadAverage()})`);
      for (const [i, setting] of SETTINGS.entries()) {
        samples[i].push(await measureSetting(setting, options, root));
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  const train = ["deno", ...await trainTaskArgs(), "--config", options.config].join(" ");
  const machine = `${await cpuModel()}, ${navigator.hardwareConcurrency} CPU threads`;
  const section = report(options, train, machine, samples, [loadBefore, await loadAverage()]);
  console.log(`\n${section}`);
  if (options.write) {
    await writeDocsSection("docs/benchmarks.md", "bench-workers", section);
    console.log("wrote docs/benchmarks.md");
  }
}

function report(
  options: Options,
  train: string,
  machine: string,
  samples: readonly Sample[][],
  load: readonly string[],
): string {
  const flags = [
    `--rounds ${options.rounds}`,
    `--iterations ${options.iterations}`,
    ...(options.config === DEFAULT_CONFIG ? [] : [`--config ${options.config}`]),
  ];
  const ratio = (runs: readonly Sample[], base: readonly Sample[]) =>
    spread(runs.map((s, round) => s.throughput / base[round].throughput), 2);
  const [defaults, oneThread, twoWorkers, sideBySide] = samples;
  const row = (label: string, runs: readonly Sample[]) =>
    [
      label,
      spread(runs.map((s) => s.throughput), 1),
      spread(runs.map((s) => s.cores), 2),
      spread(runs.map((s) => s.throughput / s.cores), 1),
      spread(runs.map((s) => s.others), 2),
    ].join(" | ");
  return [
    "## Data-parallel update: `deno task bench-workers`",
    "",
    `Measured with \`deno task bench-workers ${flags.join(" ")}\` on ${
      new Date().toISOString()
    }: ` +
    `${machine}; load average (1, 5, 15 min) ${load[0]} before ` +
    `and ${
      load[1]
    } after. Each run is a fresh \`${train} --workers N\` (the \`train\` task): one ` +
    `warm-up iteration, then ${options.iterations} timed (rollout + reward + update, as \`train\` ` +
    "reports them); the settings alternate within each round. Figures are min / median / max over " +
    "the rounds. Cores are CPU time over wall time during the timed iterations, of the run and of " +
    "every other process; per core is the run's trajectories/s over its cores.",
    "",
    "| setting | trajectories/s | cores used by the run | per core | cores used by others |",
    "| ------- | -------------: | --------------------: | -------: | -------------------: |",
    ...SETTINGS.map((setting, i) => `| ${row(setting.label, samples[i])} |`),
    "",
    `2 workers ÷ 1 worker, round by round: ${ratio(twoWorkers, defaults)}× against the library ` +
    "thread defaults (OpenBLAS and ONNX Runtime pick their own thread counts), " +
    `${ratio(twoWorkers, oneThread)}× against one thread. With \`--workers 2\` each worker uses ` +
    "one OpenBLAS and one ONNX Runtime thread. Two independent one-thread runs side by side make " +
    `${ratio(sideBySide, oneThread)}× one run's trajectories/s together: what the machine gives ` +
    "two jobs that share nothing, the ceiling for two workers.",
  ].join("\n");
}

if (import.meta.main) {
  Deno.exit(await runCommand("bench-workers", Deno.args, { help: HELP, parse, run }));
}
