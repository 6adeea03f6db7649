/**
 * Replaces kernels of TF.js's CPU backend at run time and restores the
 * previous ones on request. A replacement receives the kernel it replaces so
 * it can hand over anything it does not handle (another dtype, an unusual
 * layout) or wrap it (timing).
 *
 * @module
 */

import {
  getBackend,
  getKernel,
  type KernelConfig,
  type KernelFunc,
  registerKernel,
  type TensorInfo,
  unregisterKernel,
} from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-cpu";

/** The arguments TF.js passes to a CPU kernel. */
export interface CpuKernelArgs {
  /** Named input tensors. */
  inputs: Record<string, TensorInfo | undefined>;
  /** The CPU backend that owns the inputs' data. */
  backend: MathBackendCPU;
  /** The kernel's attributes. */
  attrs?: Record<string, unknown>;
}

/** A CPU kernel implementation. */
export type CpuKernel = (args: CpuKernelArgs) => TensorInfo | TensorInfo[];

/** One kernel to replace: its TF.js name and a factory given the kernel it replaces. */
export interface KernelReplacement {
  /** TF.js kernel name, e.g. `"BatchMatMul"`. */
  kernelName: string;
  /** Builds the replacement; `previous` runs the kernel registered before it. */
  create(previous: CpuKernel): CpuKernel;
}

/** Handle to a set of installed replacements. */
export interface InstalledKernels {
  /** Names of the replaced kernels. */
  readonly kernelNames: readonly string[];
  /** Restores the kernels registered before (idempotent; skips kernels replaced since). */
  uninstall(): void;
}

const BACKEND = "cpu";

/**
 * Registers `replacements` on the CPU backend in place of the current
 * kernels. Uninstall in the reverse order of installation.
 *
 * @example
 * ```ts
 * import { replaceCpuKernels } from "./tfjs-registry.ts";
 * let calls = 0;
 * const installed = replaceCpuKernels([{
 *   kernelName: "Neg",
 *   create: (previous) => (args) => (calls++, previous(args)),
 * }]);
 * installed.uninstall();
 * ```
 */
export function replaceCpuKernels(replacements: readonly KernelReplacement[]): InstalledKernels {
  const installed: { previous: KernelConfig; kernelFunc: KernelFunc }[] = [];
  for (const { kernelName, create } of replacements) {
    const previous = getKernel(kernelName, BACKEND);
    if (!previous) throw new Error(`TF.js CPU backend has no kernel named "${kernelName}"`);
    const kernelFunc = create(previous.kernelFunc as unknown as CpuKernel) as unknown as KernelFunc;
    unregisterKernel(kernelName, BACKEND);
    registerKernel({ ...previous, kernelFunc });
    installed.push({ previous, kernelFunc });
  }
  return {
    kernelNames: installed.map(({ previous }) => previous.kernelName),
    uninstall() {
      for (const { previous, kernelFunc } of installed.splice(0)) {
        if (getKernel(previous.kernelName, BACKEND)?.kernelFunc !== kernelFunc) continue;
        unregisterKernel(previous.kernelName, BACKEND);
        registerKernel(previous);
      }
    },
  };
}

/**
 * The float32 values of a CPU tensor, or `undefined` if it is another dtype.
 *
 * @example
 * ```ts ignore
 * const values = float32Values(backend, inputs.x); // inside a kernel
 * ```
 */
export function float32Values(
  backend: MathBackendCPU,
  info: TensorInfo | undefined,
): Float32Array | undefined {
  if (!info || info.dtype !== "float32") return undefined;
  const values = backend.data.get(info.dataId).values;
  return values instanceof Float32Array ? values : undefined;
}

/**
 * Registers new kernels (names TF.js does not define, e.g. `FlowmapGelu`) on
 * the CPU backend, replacing earlier registrations of the same names; returns
 * a function that unregisters them (those still registered by this call).
 *
 * @example
 * ```ts
 * import { registerCpuKernels } from "./tfjs-registry.ts";
 * const uninstall = registerCpuKernels({ MyIdentity: ({ inputs }) => inputs.x! });
 * uninstall();
 * ```
 */
export function registerCpuKernels(kernels: Readonly<Record<string, CpuKernel>>): () => void {
  for (const [kernelName, kernelFunc] of Object.entries(kernels)) {
    if (getKernel(kernelName, BACKEND)) unregisterKernel(kernelName, BACKEND);
    registerKernel({ kernelName, backendName: BACKEND, kernelFunc: kernelFunc as never });
  }
  return () => {
    for (const [kernelName, kernelFunc] of Object.entries(kernels)) {
      if (getKernel(kernelName, BACKEND)?.kernelFunc === (kernelFunc as unknown)) {
        unregisterKernel(kernelName, BACKEND);
      }
    }
  };
}

/**
 * Whether the active backend has a kernel of this name (a fused op runs it,
 * else its composite form).
 *
 * @example
 * ```ts
 * import { hasActiveKernel } from "./tfjs-registry.ts";
 * hasActiveKernel("FlowmapGelu"); // true once the fused kernels are installed on the active backend
 * ```
 */
export function hasActiveKernel(kernelName: string): boolean {
  return getKernel(kernelName, getBackend()) !== undefined;
}
