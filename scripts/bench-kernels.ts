/**
 * Benchmarks TF.js matrix products forward + backward (stock CPU kernels,
 * the BLAS kernels, raw `sgemm`) and one Adam training step of a ~1M
 * parameter transformer, with a per-kernel profile; `--write` puts the tables,
 * with the machine's state, into docs/benchmarks.md. Run `--help` for options.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { selectBackend } from "../trainer/backend.ts";
import { type Blas, loadBlas } from "../kernels/blas.ts";
import { installBlasKernels, uninstallBlasKernels } from "../kernels/tfjs-blas.ts";
import { type KernelTime, profileCpuKernels } from "../kernels/tfjs-profile.ts";
import { buildTransformer, SMALL_TRANSFORMER, trainingStep } from "./bench/transformer.ts";
import { parseFlags, runCommand } from "../cli/command.ts";
import { writeDocsSection } from "./bench/docs_section.ts";
import { cpuModel, loadAverage, rawSgemm } from "./bench/machine.ts";

const HELP = `Usage: deno task bench [options]

Forward+backward GFLOP/s of TF.js matMul (stock CPU kernels vs the BLAS
kernels vs raw cblas_sgemm), then one Adam training step of a ~1M-parameter
transformer (stock vs BLAS) with a per-kernel profile.

Options:
  --sizes LIST     square matmul sizes (default 64,128,256,512,1024)
  --batch N        transformer batch size (default 64)
  --steps N        timed BLAS training steps, median reported (default 3)
  --no-stock-step  skip the stock training step (it takes about a minute)
  --write          write the tables into docs/benchmarks.md
  --help           show this help

Environment: FLOWMAP_BLAS_LIB (library path), FLOWMAP_BLAS_THREADS.`;

interface MatMulShape {
  label: string;
  batch: number;
  m: number;
  k: number;
  n: number;
}

// The products of one SMALL_TRANSFORMER step at batch 64 (4096 tokens, width 128, 4 heads).
const TRANSFORMER_SHAPES: MatMulShape[] = [
  { label: "qkv 4096×128·128×384", batch: 1, m: 4096, k: 128, n: 384 },
  { label: "proj 4096×128·128×128", batch: 1, m: 4096, k: 128, n: 128 },
  { label: "fc1 4096×128·128×512", batch: 1, m: 4096, k: 128, n: 512 },
  { label: "fc2 4096×512·512×128", batch: 1, m: 4096, k: 512, n: 128 },
  { label: "scores 256×(64×32·32×64)", batch: 256, m: 64, k: 32, n: 64 },
  { label: "mix 256×(64×64·64×32)", batch: 256, m: 64, k: 64, n: 32 },
];

interface Options {
  readonly sizes: number[];
  readonly batch: number;
  readonly steps: number;
  readonly stockStep: boolean;
  readonly write: boolean;
}

function parseCommand(args: string[]): Options | "help" {
  const values = parseFlags(args, {
    sizes: { type: "string", default: "64,128,256,512,1024" },
    batch: { type: "string", default: "64" },
    steps: { type: "string", default: "3" },
    "no-stock-step": { type: "boolean", default: false },
    write: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
  if (values.help) return "help";
  return {
    sizes: values.sizes.split(",").map((s) => positiveInt(s, "--sizes")),
    batch: positiveInt(values.batch, "--batch"),
    steps: positiveInt(values.steps, "--steps"),
    stockStep: !values["no-stock-step"],
    write: values.write,
  };
}

async function run(options: Options): Promise<void> {
  const { sizes, batch, steps, stockStep } = options;
  await selectBackend("blas", (message) => console.log(message));
  const blas = loadBlas();
  uninstallBlasKernels();
  const load = await loadAverage();
  rawSgemm(blas); // wake the BLAS threads
  const before = { load, sgemm: rawSgemm(blas) };

  const square = sizes.map((n) => ({ label: `${n}×${n}`, batch: 1, m: n, k: n, n }));
  const matmul = matMulTable([...square, ...TRANSFORMER_SHAPES], blas);
  const step = trainingStepTables(batch, steps, stockStep, blas);

  const flags = [
    sizes.join() === "64,128,256,512,1024" ? "" : ` --sizes ${sizes.join()}`,
    batch === 64 ? "" : ` --batch ${batch}`,
    steps === 3 ? "" : ` --steps ${steps}`,
    stockStep ? "" : " --no-stock-step",
  ].join("");
  const section = [
    "## Training kernels: `deno task bench`",
    "",
    `Measured with \`deno task bench${flags} --write\` on ${new Date().toISOString()}: ` +
    `${await cpuModel()}, ${navigator.hardwareConcurrency} CPU threads; load average (1, 5, 15 ` +
    `min) ${before.load} before and ${await loadAverage()} after; raw \`sgemm\` 512³ ` +
    `${before.sgemm.toFixed(0)} then ${rawSgemm(blas).toFixed(0)} GFLOP/s (a core shared with ` +
    `other jobs lowers it); OpenBLAS \`${blas.library}\`` +
    (blas.threads === undefined ? "" : ` on ${blas.threads} threads`) +
    `. Ratios come from this one run.`,
    "",
    "### matMul forward + backward (3 products), GFLOP/s",
    "",
    ...matmul,
    "",
    `### Training step: ${SMALL_TRANSFORMER.depth}-block transformer, batch ${batch}`,
    "",
    ...step,
  ].join("\n");
  console.log(`\n${section}`);
  if (options.write) {
    await writeDocsSection("docs/benchmarks.md", "bench-kernels", section);
    console.log("wrote docs/benchmarks.md");
  }
}

function matMulTable(shapes: MatMulShape[], blas: Blas): string[] {
  const lines = [
    row(["shape", "stock", "BLAS", "raw sgemm", "BLAS/stock", "BLAS/raw"]),
    row(["---", "---:", "---:", "---:", "---:", "---:"]),
  ];
  for (const shape of shapes) {
    const flops = 3 * 2 * shape.batch * shape.m * shape.k * shape.n;
    const stock = flops / timeMatMul(shape) / 1e9;
    const installed = installBlasKernels(blas);
    const fast = flops / timeMatMul(shape) / 1e9;
    installed.uninstall();
    const raw = flops / timeRawSgemm(shape, blas) / 1e9;
    lines.push(row([
      shape.label,
      stock.toFixed(2),
      fast.toFixed(1),
      raw.toFixed(1),
      `${(fast / stock).toFixed(0)}×`,
      `${(100 * fast / raw).toFixed(0)} %`,
    ]));
  }
  return lines;
}

/** Seconds per forward + backward of `a·b` through TF.js (data read back). */
function timeMatMul({ batch, m, k, n }: MatMulShape): number {
  const shapeOf = (rows: number, cols: number) => batch === 1 ? [rows, cols] : [batch, rows, cols];
  const a = tf.randomNormal(shapeOf(m, k));
  const b = tf.randomNormal(shapeOf(k, n));
  const dy = tf.randomNormal(shapeOf(m, n));
  const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y));
  const seconds = timeIt(() => {
    const [da, db] = tf.tidy(() => grads([a, b], dy));
    da.dataSync();
    db.dataSync();
    tf.dispose([da, db]);
  });
  tf.dispose([a, b, dy]);
  return seconds;
}

/** Seconds for the same three products called directly on Float32Arrays. */
function timeRawSgemm({ batch, m, k, n }: MatMulShape, blas: Blas): number {
  const random = (size: number) => Float32Array.from({ length: size }, () => Math.random() - 0.5);
  const a = random(batch * m * k), b = random(batch * k * n), dy = random(batch * m * n);
  const y = new Float32Array(batch * m * n), da = new Float32Array(batch * m * k);
  const db = new Float32Array(batch * k * n);
  return timeIt(() => {
    for (let i = 0; i < batch; i++) {
      const A = a.subarray(i * m * k), B = b.subarray(i * k * n), DY = dy.subarray(i * m * n);
      blas.sgemm(false, false, m, n, k, 1, A, k, B, n, 0, y.subarray(i * m * n), n);
      blas.sgemm(false, true, m, k, n, 1, DY, n, B, n, 0, da.subarray(i * m * k), k);
      blas.sgemm(true, false, k, n, m, 1, A, k, DY, n, 0, db.subarray(i * k * n), n);
    }
  });
}

/** Median seconds of `fn` over repeats filling about half a second (at least 3, after a warm-up). */
function timeIt(fn: () => void): number {
  const start = performance.now();
  fn();
  const first = (performance.now() - start) / 1000;
  const repeats = Math.max(1, Math.min(50, Math.round(0.5 / first)));
  const times: number[] = [];
  for (let i = 0; i < Math.max(repeats, first > 2 ? 1 : 3); i++) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

function trainingStepTables(
  batch: number,
  steps: number,
  withStock: boolean,
  blas: Blas,
): string[] {
  const model = buildTransformer(SMALL_TRANSFORMER, 1);
  const { tokens, patchDim } = SMALL_TRANSFORMER;
  const x = tf.randomNormal([batch, tokens, patchDim], 0, 1, "float32", 2) as tf.Tensor3D;
  const y = tf.randomNormal([batch, tokens, patchDim], 0, 1, "float32", 3) as tf.Tensor3D;
  const step = trainingStep(model, x, y);

  const installed = installBlasKernels(blas);
  step(); // warm-up: JIT and optimizer slots
  const blasMs = median(Array.from({ length: steps }, () => timeMs(step)));
  let blasProfile: KernelTime[] = [];
  const blasProfiledMs = timeMs(() => (blasProfile = profileCpuKernels(step)));
  installed.uninstall();

  let stockMs: number | undefined;
  let stockProfile: KernelTime[] = [];
  if (withStock) {
    console.log("timing the stock training step (about a minute)…");
    stockMs = timeMs(() => (stockProfile = profileCpuKernels(step)));
  }
  const lines = [
    `${model.parameterCount.toLocaleString("en")} parameters; median of ${steps} BLAS steps` +
    (stockMs === undefined ? "." : ", one stock step (profiled kernel by kernel)."),
    "",
    row(["kernels", "step (ms)", "speedup"]),
    row(["---", "---:", "---:"]),
  ];
  if (stockMs !== undefined) lines.push(row(["stock TF.js CPU", stockMs.toFixed(0), "1×"]));
  lines.push(row([
    "BLAS + fast kernels",
    blasMs.toFixed(0),
    stockMs === undefined ? "—" : `${(stockMs / blasMs).toFixed(1)}×`,
  ]));
  if (stockMs !== undefined) lines.push(...profileTable("stock", stockProfile, stockMs));
  lines.push(...profileTable("BLAS", blasProfile, blasProfiledMs));
  return lines;
}

const MATMUL_KERNELS = new Set(["BatchMatMul", "_FusedMatMul"]);

function profileTable(label: string, profile: KernelTime[], stepMs: number): string[] {
  const total = profile.reduce((sum, k) => sum + k.ms, 0);
  const matmul = profile.filter((k) => MATMUL_KERNELS.has(k.kernelName))
    .reduce((sum, k) => sum + k.ms, 0);
  return [
    "",
    `Profile, ${label} kernels: step ${stepMs.toFixed(0)} ms, in kernels ${
      total.toFixed(0)
    } ms — ` +
    `matmul ${pct(matmul, total)}, element-wise and other ${pct(total - matmul, total)}:`,
    "",
    row(["kernel", "ms", "calls", "share"]),
    row(["---", "---:", "---:", "---:"]),
    ...profile.slice(0, 12).map((k) =>
      row([k.kernelName, k.ms.toFixed(1), String(k.calls), pct(k.ms, total)])
    ),
  ];
}

function timeMs(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function pct(part: number, total: number): string {
  return `${(100 * part / total).toFixed(1)} %`;
}

function row(cells: string[]): string {
  return `| ${cells.join(" | ")} |`;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`${flag} must be a positive integer, got "${value}"`);
  }
  return n;
}

if (import.meta.main) {
  Deno.exit(await runCommand("bench-kernels", Deno.args, { help: HELP, parse: parseCommand, run }));
}
