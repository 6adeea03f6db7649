/**
 * Makes TF.js's CPU backend fast: matrix products on BLAS `sgemm` (through
 * FFI) and the element-wise, reduction and layout kernels that dominate a
 * transformer step once matrix products are fast (and the slicing ones of
 * `tfjs-layout.ts`), in tight JavaScript loops,
 * plus the fused kernels behind `gelu` and `layerNorm` of `tfjs-fused.ts`,
 * writing their outputs into recycled arrays (`tfjs-pool.ts`), with lighter
 * bookkeeping of TF.js's gradient tape (`tfjs-tape.ts`).
 * Every replacement hands inputs it does not cover (non-float32, unusual
 * axes) to the stock kernel, so results never change meaning.
 *
 * @module
 */

import type { Blas } from "./blas.ts";
import { matMulKernels } from "./tfjs-matmul.ts";
import { elementwiseKernels } from "./tfjs-elementwise.ts";
import { reductionKernels } from "./tfjs-reduce.ts";
import { layoutKernels } from "./tfjs-layout.ts";
import { installFusedKernels } from "./tfjs-fused.ts";
import { installLinearKernels } from "./tfjs-linear.ts";
import { installAdaLnKernels } from "./tfjs-adaln.ts";
import { installAttentionKernels } from "./tfjs-attention.ts";
import { type InstalledKernels, replaceCpuKernels } from "./tfjs-registry.ts";
import { installOutputPool } from "./tfjs-pool.ts";
import { installTapePatches } from "./tfjs-tape.ts";

export type { InstalledKernels } from "./tfjs-registry.ts";

let active: InstalledKernels | undefined;

/**
 * Installs the BLAS matrix kernels and the fast element-wise kernels on the
 * CPU backend (replacing an earlier installation). Call `uninstall()` on the
 * result to get the stock kernels back.
 *
 * @example
 * ```ts ignore
 * import * as tf from "@tensorflow/tfjs-core";
 * import { loadBlas } from "./blas.ts";
 * import { installBlasKernels } from "./tfjs-blas.ts";
 * await tf.setBackend("cpu");
 * const installed = installBlasKernels(loadBlas());
 * tf.matMul(tf.ones([512, 512]), tf.ones([512, 512])); // runs on sgemm
 * installed.uninstall();
 * ```
 */
export function installBlasKernels(blas: Blas): InstalledKernels {
  active?.uninstall();
  const installed = replaceCpuKernels([
    ...matMulKernels(blas),
    ...elementwiseKernels(),
    ...reductionKernels(),
    ...layoutKernels(),
  ]);
  const uninstallFused = [
    installOutputPool(),
    installTapePatches(),
    installFusedKernels(),
    installAdaLnKernels(),
    installLinearKernels(blas),
    installAttentionKernels(blas),
  ];
  active = {
    kernelNames: installed.kernelNames,
    uninstall() {
      installed.uninstall();
      for (const uninstall of uninstallFused) uninstall();
      if (active === this) active = undefined;
    },
  };
  return active;
}

/**
 * Uninstalls the kernels of the last {@link installBlasKernels} call, if any,
 * so the CPU backend runs TF.js's stock kernels again.
 *
 * @example
 * ```ts
 * import { uninstallBlasKernels } from "./tfjs-blas.ts";
 * uninstallBlasKernels(); // no-op when nothing is installed
 * ```
 */
export function uninstallBlasKernels(): void {
  active?.uninstall();
}
