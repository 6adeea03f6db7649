/**
 * The markdown section `deno task bench-update` prints and writes into
 * docs/benchmarks.md: the pass against ONNX Runtime (and PyTorch), the
 * machine's state, the per-kernel profile and the matrix products by shape.
 *
 * @module
 */

import type { KernelTime } from "../../kernels/tfjs-profile.ts";

/** The command-line options the section names. */
export interface ReportOptions {
  /** Training config. */
  readonly config: string;
  /** Samples per pass, if set on the command line. */
  readonly batch?: number;
  /** Alternating rounds. */
  readonly rounds: number;
  /** Timed passes per round. */
  readonly passes: number;
  /** BLAS and ONNX Runtime threads. */
  readonly threads: number;
  /** Whether PyTorch ran. */
  readonly torch: boolean;
  /** The Python that ran it. */
  readonly python: string;
}

/** Matrix products of one shape: calls, milliseconds and FLOPs. */
export interface GemmTotals {
  /** Calls. */
  calls: number;
  /** Milliseconds. */
  ms: number;
  /** FLOPs. */
  flops: number;
}

/** What the section reports. */
export interface ReportInput {
  /** The command line. */
  options: ReportOptions;
  /** Samples per pass. */
  batch: number;
  /** Trainable LoRA parameters. */
  trainable: number;
  /** Matrix FLOPs of a pass. */
  passFlops: number;
  /** Matrix FLOPs of the forward pass and objective. */
  forwardFlops: number;
  /** Median milliseconds of each engine. */
  ms: { pass: number; forward: number; ort: number; torchPass?: number; torchForward?: number };
  /** Per-kernel time of one pass. */
  profile: KernelTime[];
  /** An untimed pass right after the profile. */
  profiledMs: number;
  /** Matrix products of one pass by shape, largest time first. */
  gemms: ({ shape: string } & GemmTotals)[];
  /** CPU, load averages before and after, raw sgemm GFLOP/s before and after. */
  machine: { cpu: string; load: string[]; sgemm: number[] };
  /** PyTorch's version, when it ran. */
  torchVersion?: string;
  /** The BLAS library. */
  library: string;
}

/**
 * The section's markdown.
 *
 * @example
 * ```ts ignore
 * console.log(updateReport(input));
 * ```
 */
export function updateReport(r: ReportInput): string {
  const { ms, options } = r;
  const gflops = (flops: number, time: number) => (flops / time / 1e6).toFixed(1);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const flags = [
    options.config === "trainer/configs/shapes-meanflow.json" ? "" : ` --config ${options.config}`,
    options.batch === undefined ? "" : ` --batch ${options.batch}`,
    ` --rounds ${options.rounds} --passes ${options.passes}`,
    options.threads === 1 ? "" : ` --threads ${options.threads}`,
    options.torch ? " --torch" : "",
    options.torch && options.python !== "python3" ? ` --python ${options.python}` : "",
  ].join("");
  const lines = [
    "## Trainer update: `deno task bench-update`",
    "",
    `Measured with \`deno task bench-update${flags} --write\` on ${new Date().toISOString()}: ` +
    `${r.machine.cpu}, ${navigator.hardwareConcurrency} CPU threads; load average (1, 5, 15 min) ` +
    `${r.machine.load[0]} before and ${r.machine.load[1]} after; raw \`sgemm\` 512³ on one ` +
    `thread ${r.machine.sgemm.map((g) => g.toFixed(0)).join(" then ")} GFLOP/s (measured ` +
    `alone each time; a core shared with other jobs lowers it). Ratios come from one run, the engines ` +
    `alternating round by round. One update pass of \`${options.config}\`: batch ${r.batch}, ` +
    `${r.trainable.toLocaleString("en")} LoRA parameters, forward + GRPO objective + backward + ` +
    `AdamW, ${options.threads} thread(s), OpenBLAS \`${r.library}\`. Medians of ` +
    `${options.rounds * options.passes} passes.`,
    "",
    "| per pass | ms | GFLOP | GFLOP/s | ÷ ORT forward |" + (ms.torchPass ? " ÷ PyTorch |" : ""),
    "| -------- | -: | ----: | ------: | ------------: |" + (ms.torchPass ? " --------: |" : ""),
    `| update pass (ours) | ${ms.pass.toFixed(1)} | ${(r.passFlops / 1e9).toFixed(2)} | ${
      gflops(r.passFlops, ms.pass)
    } | ${ratio(ms.pass, ms.ort)} |` + (ms.torchPass ? ` ${ratio(ms.pass, ms.torchPass)} |` : ""),
    `| forward + objective (ours) | ${ms.forward.toFixed(1)} | ${
      (r.forwardFlops / 1e9).toFixed(2)
    } | ${gflops(r.forwardFlops, ms.forward)} | ${ratio(ms.forward, ms.ort)} |` +
    (ms.torchForward ? ` ${ratio(ms.forward, ms.torchForward)} |` : ""),
    `| ONNX Runtime forward | ${ms.ort.toFixed(1)} | | | 1× |` +
    (ms.torchPass ? " |" : ""),
  ];
  if (ms.torchPass && ms.torchForward) {
    lines.push(
      `| PyTorch ${r.torchVersion} update pass | ${ms.torchPass.toFixed(1)} | | ${
        gflops(r.passFlops, ms.torchPass)
      } | ${ratio(ms.torchPass, ms.ort)} | 1× |`,
      `| PyTorch forward + objective | ${ms.torchForward.toFixed(1)} | | ${
        gflops(r.forwardFlops, ms.torchForward)
      } | ${ratio(ms.torchForward, ms.ort)} | 1× |`,
    );
  }
  const inKernels = r.profile.reduce((sum, k) => sum + k.ms, 0);
  lines.push(
    "",
    "GFLOP: the matrix products the project's kernels run, counted at their `sgemm` calls " +
      "(PyTorch's GFLOP/s divide the same count by its time). ORT forward: ONNX Runtime running " +
      "the bundled model's forward pass on the same batch and threads, the in-repo reference.",
    "",
    `Per-kernel profile of one pass (mean of ${options.passes} timed kernel by kernel, which ` +
      `adds overhead: the kernels sum to ${inKernels.toFixed(1)} ms; an untimed pass right after ` +
      `took ${r.profiledMs.toFixed(1)} ms, including TF.js's bookkeeping and AdamW):`,
    "",
    "| kernel | ms | calls | share of pass |",
    "| ------ | -: | ----: | ------------: |",
    ...r.profile.filter((k) => k.ms >= 0.1).map((k) =>
      `| ${k.kernelName} | ${k.ms.toFixed(1)} | ${k.calls} | ${
        (100 * k.ms / r.profiledMs).toFixed(1)
      } % |`
    ),
  );
  const gemm = r.gemms.reduce(
    (t, g) => ({ ms: t.ms + g.ms, flops: t.flops + g.flops, calls: t.calls + g.calls }),
    {
      ms: 0,
      flops: 0,
      calls: 0,
    },
  );
  lines.push(
    "",
    `Matrix products of one pass by shape (\`sgemm\` row-major, N/T = transposed operand, ` +
      `m×n×k), timed call by call: ${gemm.calls} calls, ${gemm.ms.toFixed(1)} ms, ` +
      `${gflops(gemm.flops, gemm.ms)} GFLOP/s overall; the largest:`,
    "",
    "| sgemm | calls | ms | GFLOP/s |",
    "| ----- | ----: | -: | ------: |",
    ...r.gemms.slice(0, 10).map((g) =>
      `| ${g.shape} | ${g.calls} | ${g.ms.toFixed(2)} | ${gflops(g.flops, g.ms)} |`
    ),
  );
  return lines.join("\n");
}
