/**
 * Times one update pass of the trainer (forward, the GRPO objective,
 * backward, AdamW; `scripts/bench/update_pass.ts`) on the MeanFlow headline
 * config with the project's kernels, next to ONNX Runtime's forward pass of
 * the same batch on the same threads, alternating round by round. Prints ms
 * per pass (median), GFLOP/s of its matrix products, a per-kernel profile and
 * the ratios; `--write` puts the tables into docs/benchmarks.md between the
 * `bench-update` markers. `--torch` adds the optional PyTorch reference
 * (`scripts/reference/update_torch.py`, needs python3 with torch), also
 * alternating. Run `--help` for options.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { type Blas, loadBlas, threadsFromEnv } from "../kernels/blas.ts";
import { installBlasKernels } from "../kernels/tfjs-blas.ts";
import { profileCpuKernels } from "../kernels/tfjs-profile.ts";
import { loadTrainConfig } from "../trainer/config.ts";
import { loadBaseModel } from "../trainer/setup.ts";
import { loadModel } from "../src/onnx/model.ts";
import { endpointOf } from "../src/flowmap.ts";
import { parseFlags, runCommand } from "../cli/command.ts";
import { integer, readFlag } from "../cli/readers.ts";
import { buildUpdatePass, type UpdatePass } from "./bench/update_pass.ts";
import { startTorchReference, type TorchReference } from "./bench/update_torch.ts";
import { writeDocsSection } from "./bench/docs_section.ts";
import { cpuModel, loadAverage, rawSgemm } from "./bench/machine.ts";
import { type GemmTotals, type ReportOptions, updateReport } from "./bench/update_report.ts";

const HELP = `Usage: deno task bench-update [options]

Times one update pass of the trainer (forward, GRPO objective, backward,
AdamW) at the config's micro-batch, alternating with ONNX Runtime's forward
pass of the same batch (and, with --torch, a PyTorch re-implementation).

Options:
  --config FILE   training config (default trainer/configs/shapes-meanflow.json)
  --batch N       samples per pass (default: the config's rollout.microBatch)
  --rounds N      alternating rounds (default 7)
  --passes N      timed passes per round and engine (default 5)
  --threads N     OpenBLAS and ONNX Runtime threads (default 1)
  --torch         also time scripts/reference/update_torch.py (needs torch)
  --python PATH   the Python that has torch (default python3)
  --write         write the tables into docs/benchmarks.md
  --help          show this help`;

/** Pause between engines (ms). */
const SETTLE_MS = 300;

interface Options extends ReportOptions {
  readonly write: boolean;
}

function parseCommand(args: string[]): Options | "help" {
  const values = parseFlags(args, {
    config: { type: "string", default: "trainer/configs/shapes-meanflow.json" },
    batch: { type: "string" },
    rounds: { type: "string", default: "7" },
    passes: { type: "string", default: "5" },
    threads: { type: "string", default: String(threadsFromEnv() ?? 1) },
    torch: { type: "boolean", default: false },
    python: { type: "string", default: "python3" },
    write: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
  if (values.help) return "help";
  const count = integer({ min: 1 });
  return {
    config: values.config,
    batch: readFlag(count, values.batch, "--batch"),
    rounds: readFlag(count, values.rounds, "--rounds"),
    passes: readFlag(count, values.passes, "--passes"),
    threads: readFlag(count, values.threads, "--threads"),
    torch: values.torch,
    python: values.python,
    write: values.write,
  };
}

/** What {@link countingBlas} records. */
interface GemmCount {
  /** FLOPs (`2·m·n·k` per call). */
  flops: number;
  /** Per shape (`NT 512×128×128`), when set. */
  shapes?: Map<string, GemmTotals>;
}

/** `blas` with every `sgemm` counted into `count` (and timed by shape when `count.shapes` is set). */
function countingBlas(blas: Blas, count: GemmCount): Blas {
  return {
    ...blas,
    get threads() {
      return blas.threads;
    },
    sgemm(transA, transB, m, n, k, ...rest) {
      count.flops += 2 * m * n * k;
      if (!count.shapes) return blas.sgemm(transA, transB, m, n, k, ...rest);
      const start = performance.now();
      blas.sgemm(transA, transB, m, n, k, ...rest);
      const key = `${transA ? "T" : "N"}${transB ? "T" : "N"} ${m}×${n}×${k}`;
      const totals = count.shapes.get(key) ?? { calls: 0, ms: 0, flops: 0 };
      totals.calls++;
      totals.ms += performance.now() - start;
      totals.flops += 2 * m * n * k;
      count.shapes.set(key, totals);
    },
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function timeEach(passes: number, fn: () => unknown): number[] {
  const times: number[] = [];
  for (let i = 0; i < passes; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  return times;
}

async function timeEachAsync(passes: number, fn: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < passes; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return times;
}

async function run(options: Options): Promise<void> {
  tf.env().set("PROD", true);
  const blas = loadBlas({ threads: options.threads });
  await tf.setBackend("cpu");
  const count: GemmCount = { flops: 0 };
  const config = await loadTrainConfig(options.config);
  const base = await loadBaseModel(config.model);
  const batch = options.batch ?? config.rollout.microBatch;
  installBlasKernels(countingBlas(blas, count));
  const pass: UpdatePass = buildUpdatePass(config, base, batch);
  const loadBefore = await loadAverage();
  const sgemmBefore = rawSgemm(blas);
  for (let i = 0; i < 10; i++) pass.run(); // warm-up: V8 compiles the kernels' loops
  count.flops = 0;
  pass.run();
  const passFlops = count.flops;
  count.flops = 0;
  pass.forward();
  const forwardFlops = count.flops;
  installBlasKernels(blas);

  const ort = await loadModel(base.served, { threads: options.threads });
  const { x, tokens, shape, t } = pass.inputs;
  const ortForward = () => endpointOf(ort.flowMap, { data: x, shape }, t, tokens);
  await ortForward();
  let torch: TorchReference | undefined;
  if (options.torch) {
    torch = await startTorchReference(pass, options.threads, options.python);
    const loss = pass.forward(); // the weights torch received
    console.log(
      `PyTorch ${torch.version}: objective ${torch.loss.toExponential(7)}, ours ` +
        `${loss.toExponential(7)} (relative difference ${
          (Math.abs(torch.loss - loss) / Math.abs(loss)).toExponential(1)
        })`,
    );
  }
  const times = { pass: [] as number[], forward: [] as number[], ort: [] as number[] };
  const torchTimes = { pass: [] as number[], forward: [] as number[] };
  // V8's garbage collector keeps working on other threads after a pass; it
  // finishes before the next engine's turn, so that engine is not slowed by it
  const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  for (let round = 0; round < options.rounds; round++) {
    times.pass.push(...timeEach(options.passes, () => pass.run()));
    times.forward.push(...timeEach(options.passes, () => pass.forward()));
    await settle();
    times.ort.push(...await timeEachAsync(options.passes, ortForward));
    await settle();
    if (torch) {
      const r = await torch.time(options.passes);
      await settle();
      torchTimes.pass.push(...r.pass);
      torchTimes.forward.push(...r.forward);
    }
    console.log(
      `round ${round + 1}/${options.rounds}: pass ${median(times.pass).toFixed(1)} ms, ` +
        `forward ${median(times.forward).toFixed(1)} ms, ORT ${median(times.ort).toFixed(1)} ms` +
        (torch ? `, torch pass ${median(torchTimes.pass).toFixed(1)} ms` : ""),
    );
  }
  const profile = profileCpuKernels(() => {
    for (let i = 0; i < options.passes; i++) pass.run();
  });
  const profiledMs = median(timeEach(options.passes, () => pass.run()));
  count.shapes = new Map();
  installBlasKernels(countingBlas(blas, count));
  for (let i = 0; i < options.passes; i++) pass.run();
  installBlasKernels(blas);
  const gemms = [...count.shapes].map(([shape, t]) => ({
    shape,
    calls: t.calls / options.passes,
    ms: t.ms / options.passes,
    flops: t.flops / options.passes,
  })).sort((a, b) => b.ms - a.ms);
  await torch?.close();
  await ort.dispose();
  pass.dispose();

  const ms = {
    pass: median(times.pass),
    forward: median(times.forward),
    ort: median(times.ort),
    torchPass: torch ? median(torchTimes.pass) : undefined,
    torchForward: torch ? median(torchTimes.forward) : undefined,
  };
  const machine = {
    cpu: await cpuModel(),
    load: [loadBefore, await loadAverage()],
    sgemm: [sgemmBefore, rawSgemm(blas)],
  };
  const section = updateReport({
    options,
    batch,
    trainable: pass.trainable,
    passFlops,
    forwardFlops,
    ms,
    profile: profile.map((k) => ({
      ...k,
      ms: k.ms / options.passes,
      calls: k.calls / options.passes,
    })),
    profiledMs,
    gemms,
    machine,
    torchVersion: torch?.version,
    library: blas.library,
  });
  console.log(`\n${section}`);
  if (options.write) {
    await writeDocsSection("docs/benchmarks.md", "bench-update", section);
    console.log("wrote docs/benchmarks.md");
  }
}

if (import.meta.main) {
  Deno.exit(await runCommand("bench-update", Deno.args, { help: HELP, parse: parseCommand, run }));
}
