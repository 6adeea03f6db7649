/**
 * What a person sees of a run: one JSON line per iteration in
 * `metrics.jsonl`, and a progress line on the terminal.
 *
 * @module
 */

import type { UpdateStats } from "./update.ts";

/** One line of `metrics.jsonl`. */
export interface IterationMetrics extends UpdateStats {
  /** 1-based iteration number. */
  readonly iteration: number;
  /** Mean reward of the rewarded images. */
  readonly rewardMean: number;
  /** Population std of the rewards. */
  readonly rewardStd: number;
  /** Trajectories this iteration. */
  readonly trajectories: number;
  /**
   * Seconds spent per phase. With several workers each scores its own slice
   * of the rollout: `reward` is the trainer's thread's scoring, `rollout` the
   * rest of the phase.
   */
  readonly seconds: {
    readonly rollout: number;
    readonly reward: number;
    readonly update: number;
    readonly eval: number;
  };
  /** Trajectories per second over rollout, reward and update. */
  readonly trajectoriesPerSecond: number;
}

/**
 * Reads `metrics.jsonl` (missing file: no lines).
 *
 * @example
 * ```ts ignore
 * const lines = await readMetrics("runs/demo/metrics.jsonl");
 * ```
 */
export async function readMetrics(path: string): Promise<IterationMetrics[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as IterationMetrics);
}

/**
 * The progress line: iteration, reward, KL, clip fraction, throughput, ETA.
 *
 * @param etaSeconds estimated seconds to the end of the run
 * @example
 * ```ts ignore
 * progressLine(metrics, 100, 1100);
 * // it 12/100  reward 0.412±0.210  kl 1.2e-3  clip 0.031  5.3 traj/s  eta 18m20s
 * ```
 */
export function progressLine(m: IterationMetrics, total: number, etaSeconds: number): string {
  const eta = Math.max(0, Math.round(etaSeconds));
  const clock = eta >= 3600
    ? `${Math.floor(eta / 3600)}h${String(Math.floor(eta / 60) % 60).padStart(2, "0")}m`
    : `${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, "0")}s`;
  const reward = `${m.rewardMean.toFixed(3)}±${m.rewardStd.toFixed(3)}`;
  return `it ${m.iteration}/${total}  reward ${reward}  kl ${m.kl.toExponential(1)}  ` +
    `clip ${m.clipFraction.toFixed(3)}  ${m.trajectoriesPerSecond.toFixed(1)} traj/s  eta ${clock}`;
}
