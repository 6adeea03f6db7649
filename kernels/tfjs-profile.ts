/**
 * Per-kernel wall time of TF.js CPU work. CPU kernels run synchronously, so
 * timing each kernel function is exact; kernels that call other kernels
 * directly (not through the registry) are counted once, as their caller.
 *
 * @module
 */

import { getKernelsForBackend } from "@tensorflow/tfjs-core";
import { replaceCpuKernels } from "./tfjs-registry.ts";

/** Time and calls spent in one kernel. */
export interface KernelTime {
  /** TF.js kernel name. */
  kernelName: string;
  /** Total milliseconds. */
  ms: number;
  /** Number of calls. */
  calls: number;
}

/**
 * Runs `fn` with every CPU kernel timed and returns the kernels by total time,
 * largest first. Kernels installed while `fn` runs are not timed.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { profileCpuKernels } from "./tfjs-profile.ts";
 * await tf.setBackend("cpu");
 * const times = profileCpuKernels(() => tf.tidy(() => tf.add(tf.ones([4]), 1).dataSync()));
 * times[0].kernelName; // e.g. "Add"
 * ```
 */
export function profileCpuKernels(fn: () => void): KernelTime[] {
  const totals = new Map<string, KernelTime>();
  const names = getKernelsForBackend("cpu").map((config) => config.kernelName);
  const timed = replaceCpuKernels(names.map((kernelName) => ({
    kernelName,
    create: (previous) => (args) => {
      const start = performance.now();
      try {
        return previous(args);
      } finally {
        const entry = totals.get(kernelName) ?? { kernelName, ms: 0, calls: 0 };
        entry.ms += performance.now() - start;
        entry.calls++;
        totals.set(kernelName, entry);
      }
    },
  })));
  try {
    fn();
  } finally {
    timed.uninstall();
  }
  return [...totals.values()].sort((a, b) => b.ms - a.ms);
}
