/**
 * The machine's state around a benchmark, so a written table says under what
 * load it was measured: the CPU, the load averages, and raw `sgemm` speed
 * (which a core shared with other jobs lowers).
 *
 * @module
 */

import type { Blas } from "../../kernels/blas.ts";

/**
 * The 1, 5 and 15 minute load averages, e.g. `"0.92 0.34 0.12"` (`"? ? ?"` off Linux).
 *
 * @example
 * ```ts
 * import { loadAverage } from "./machine.ts";
 * console.log(await loadAverage());
 * ```
 */
export async function loadAverage(): Promise<string> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "? ? ?");
  return text.split(" ").slice(0, 3).join(" ");
}

/**
 * The CPU's model name, or the architecture when /proc/cpuinfo is unreadable.
 *
 * @example
 * ```ts
 * import { cpuModel } from "./machine.ts";
 * console.log(await cpuModel()); // e.g. "AMD EPYC"
 * ```
 */
export async function cpuModel(): Promise<string> {
  const text = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  return text.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? Deno.build.arch;
}

/**
 * GFLOP/s of a 512×512×512 `sgemm`, best of 5: the machine's speed at this moment.
 *
 * @example
 * ```ts ignore
 * import { loadBlas } from "../../kernels/blas.ts";
 * import { rawSgemm } from "./machine.ts";
 * console.log(rawSgemm(loadBlas()).toFixed(0), "GFLOP/s");
 * ```
 */
export function rawSgemm(blas: Blas): number {
  const n = 512, a = new Float32Array(n * n).fill(1), c = new Float32Array(n * n);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    blas.sgemm(false, false, n, n, n, 1, a, n, a, n, 0, c, n);
    best = Math.min(best, performance.now() - start);
  }
  return (2 * n ** 3) / best / 1e6;
}
