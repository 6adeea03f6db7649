/**
 * A training run's directory and its files: where each lives, starting a
 * new run, checking a resumed one, and appending metrics. The trainer holds
 * the loop; this holds the files.
 *
 *     config.json             the validated configuration
 *     metrics.jsonl           one line per iteration
 *     checkpoint.safetensors  LoRA + EMA + AdamW state + iteration (resume point)
 *     adapter.safetensors     the EMA adapter (PEFT keys), loadable by the SDK
 *     summary.json            time split, throughput, final table
 *     eval.md, eval.json      the latest evaluation table; eval/ keeps each one
 *     samples.png             per K: base row over trained row
 *     reward-curve.png        mean reward per iteration, held-out strict accuracy
 *
 * @module
 */

import { join } from "node:path";
import { ExpectedError } from "../cli/command.ts";
import { exists } from "../cli/files.ts";
import { writeFileAtomic } from "./checkpoint.ts";
import { CHECKPOINT_FILE } from "./run_state.ts";
import { type IterationMetrics, readMetrics } from "./metrics.ts";

/**
 * A run cannot be resumed: its config or checkpoint is missing or differs.
 *
 * @example
 * ```ts
 * import { ResumeError } from "./run_directory.ts";
 * new ResumeError("cannot resume: runs/x/config.json is missing").name; // "ResumeError"
 * ```
 */
export class ResumeError extends ExpectedError {
  /** "ResumeError". */
  override name = "ResumeError";
}

/**
 * The files of one run.
 *
 * @example
 * ```ts ignore
 * import { RunDirectory } from "./run_directory.ts";
 * const run = new RunDirectory("runs/demo");
 * await run.start(JSON.stringify(config, null, 2) + "\n");
 * await run.appendMetrics(line);
 * ```
 */
export class RunDirectory {
  /** The directory. */
  readonly path: string;
  /** The validated configuration, as JSON. */
  readonly config: string;
  /** One JSON line per iteration. */
  readonly metrics: string;
  /** The resume point. */
  readonly checkpoint: string;
  /** The EMA adapter. */
  readonly adapter: string;
  /** The run's summary. */
  readonly summary: string;
  /** Every evaluation, as `eval-<iteration>.json` and `.md`. */
  readonly evaluations: string;
  /** The latest evaluation's sample grid. */
  readonly samples: string;
  /** Mean reward and held-out accuracy per iteration, plotted. */
  readonly rewardCurve: string;

  /**
   * Names the files of the run in `path` (nothing is created yet).
   *
   * @param path the run directory
   */
  constructor(path: string) {
    this.path = path;
    this.config = join(path, "config.json");
    this.metrics = join(path, "metrics.jsonl");
    this.checkpoint = join(path, CHECKPOINT_FILE);
    this.adapter = join(path, "adapter.safetensors");
    this.summary = join(path, "summary.json");
    this.evaluations = join(path, "eval");
    this.samples = join(path, "samples.png");
    this.rewardCurve = join(path, "reward-curve.png");
  }

  /**
   * The evaluation files: the latest (`eval.json`/`eval.md`) without an
   * iteration, else that iteration's copy under `eval/`.
   */
  evaluation(extension: "json" | "md", iteration?: number): string {
    return iteration === undefined
      ? join(this.path, `eval.${extension}`)
      : join(this.evaluations, `eval-${String(iteration).padStart(5, "0")}.${extension}`);
  }

  /** Creates the directory (and `eval/`) if missing. */
  async create(): Promise<void> {
    await Deno.mkdir(this.evaluations, { recursive: true });
  }

  /**
   * Starts a new run: refuses a directory that holds one, then writes the
   * config and an empty metrics file.
   */
  async start(configText: string): Promise<void> {
    await this.create();
    if (await exists(this.checkpoint)) {
      throw new ExpectedError(`${this.path} already holds a run; pass --resume or another --out`);
    }
    await writeFileAtomic(this.config, configText);
    await Deno.writeTextFile(this.metrics, "");
  }

  /**
   * Checks that the run's config is `configText` (or one `same` accepts) and
   * returns its checkpoint's bytes; a {@link ResumeError} says what is
   * missing or differs.
   */
  async resume(
    configText: string,
    same: (saved: string) => boolean = (saved) => saved === configText,
  ): Promise<Uint8Array> {
    await this.create();
    let saved: string;
    try {
      saved = await Deno.readTextFile(this.config);
    } catch {
      throw new ResumeError(`cannot resume: ${this.config} is missing`);
    }
    if (!same(saved)) {
      throw new ResumeError(`cannot resume: the config differs from the run's ${this.config}`);
    }
    try {
      return await Deno.readFile(this.checkpoint);
    } catch {
      throw new ResumeError(`cannot resume: ${this.checkpoint} is missing`);
    }
  }

  /** Appends one iteration's metrics. */
  async appendMetrics(line: IterationMetrics): Promise<void> {
    await Deno.writeTextFile(this.metrics, JSON.stringify(line) + "\n", { append: true });
  }

  /** Drops metrics after `iteration` (they belong to iterations that will run again). */
  async keepMetricsUpTo(iteration: number): Promise<void> {
    const kept = (await readMetrics(this.metrics)).filter((m) => m.iteration <= iteration);
    await writeFileAtomic(this.metrics, kept.map((m) => JSON.stringify(m) + "\n").join(""));
  }
}
