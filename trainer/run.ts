/**
 * A training run (docs/math.md §6): iterations of
 * rollout → reward → advantages → update, with JSONL metrics, a progress
 * line, atomic checkpoints, periodic held-out evaluation, and the EMA adapter
 * exported as safetensors. A {@link RunDirectory} holds everything (the
 * adapter is rewritten with every checkpoint and evaluation; `samples.png`
 * shows per K a base row over a trained row; `reward-curve.png` the mean
 * reward per iteration in blue and held-out strict accuracy in orange).
 *
 * @module
 */

import { computeAdvantages } from "./advantages.ts";
import { alongside } from "./alongside.ts";
import type { BackendRequest } from "./backend.ts";
import { writeFileAtomic } from "./checkpoint.ts";
import { decodeRunState, encodeRunState } from "./run_state.ts";
import { type TrainConfig, validateTrainConfig } from "./config.ts";
import { splitPrompts } from "./data/splits.ts";
import { evaluateSampler, heldOutPrompts } from "./eval/evaluate.ts";
import { writeEvaluation, writeRewardCurve } from "./eval/report.ts";
import { type ServedModel, servedModel } from "./eval/sampler.ts";
import type { EvalReport } from "./eval/table.ts";
import type { LoraAdapter } from "./model/lora.ts";
import type { TfFlowMap } from "./model/tfjs.ts";
import { AdamW, WeightEma } from "./optimizer.ts";
import { PolicyReplica } from "./replica.ts";
import { ReplicaWorker } from "./replica_worker.ts";
import type { Reward } from "./rewards/reward.ts";
import {
  joinScored,
  kRepeatPrompts,
  type Rollout,
  rolloutOptions,
  type ScoredRollout,
  scoreRollout,
} from "./rollout.ts";
import { type BaseModel, buildReward } from "./setup.ts";
import { updatePolicy } from "./update.ts";
import { type IterationMetrics, progressLine } from "./metrics.ts";
import { ResumeError, RunDirectory } from "./run_directory.ts";

/** Options of {@link Trainer.create}. */
export interface TrainerOptions {
  /** The run directory (created if missing). */
  readonly outDir: string;
  /** Continue from the run directory's checkpoint. */
  readonly resume: boolean;
  /**
   * A reward to train against instead of the config's. The config's is built
   * in every worker thread, each scoring its own slice of a rollout; a
   * substitute lives in this thread, which then scores every slice.
   */
  readonly reward?: Reward;
  /** Where progress lines go. */
  readonly log: (line: string) => void;
  /** Images per evaluation sampler call (default 32). */
  readonly evalBatch?: number;
  /**
   * Intra-op threads of the ONNX Runtime rollout sessions (default: ONNX
   * Runtime's; 1 when `train.workers` > 1).
   */
  readonly rolloutThreads?: number;
  /** The backend the extra worker threads activate: this thread's (default "auto"). */
  readonly backend?: BackendRequest;
}

/** What a finished (or interrupted) run reports. */
export interface RunSummary {
  /** Iterations completed in total (including before a resume). */
  readonly iterations: number;
  /** Whether the run stopped early on request (Ctrl-C); a time budget is not an interruption. */
  readonly interrupted: boolean;
  /** Metrics of the iterations run in this process. */
  readonly metrics: readonly IterationMetrics[];
  /** The last evaluation, if any ran. */
  readonly evaluation?: EvalReport;
  /** Seconds per phase summed over this process. */
  readonly seconds: IterationMetrics["seconds"];
}

/** Runs Flow-Map GRPO on a frozen base with a LoRA adapter. */
export class Trainer {
  readonly #config: TrainConfig;
  readonly #options: TrainerOptions;
  readonly #run: RunDirectory;
  readonly #replica: PolicyReplica;
  #workers: readonly ReplicaWorker[] = [];
  readonly #optimizer: AdamW;
  readonly #ema: WeightEma;
  readonly #names: readonly string[];
  readonly #reward: Reward;
  #iteration = 0;
  #stop = false;
  readonly #base: BaseModel;
  #baseEval?: Awaited<ReturnType<typeof evaluateSampler>>;
  #servedModel?: Promise<ServedModel>;

  private constructor(config: TrainConfig, base: BaseModel, options: TrainerOptions) {
    this.#config = config;
    this.#options = options;
    this.#run = new RunDirectory(options.outDir);
    this.#base = base;
    this.#reward = options.reward ?? buildReward(config.reward);
    const threads = config.train.workers > 1 ? 1 : options.rolloutThreads;
    this.#replica = new PolicyReplica(config, base, threads);
    const adapter = this.#replica.adapter;
    this.#optimizer = new AdamW(adapter.variables, config.optimizer);
    this.#names = [
      ...[...adapter.a.keys()].map((m) => `${m}.lora_A.weight`),
      ...[...adapter.b.keys()].map((m) => `${m}.lora_B.weight`),
    ];
    this.#ema = new WeightEma(this.#replica.weights(), config.ema);
  }

  /**
   * Sets up a run in `options.outDir`: writes `config.json`, or with
   * `resume` checks it matches (but for `train.workers`) and restores the
   * checkpoint; then starts the `train.workers − 1` extra worker threads.
   */
  static async create(
    config: TrainConfig,
    base: BaseModel,
    options: TrainerOptions,
  ): Promise<Trainer> {
    const trainer = new Trainer(config, base, options);
    const configText = JSON.stringify(config, null, 2) + "\n";
    try {
      if (options.resume) {
        await trainer.#restore(await trainer.#run.resume(configText, sameRun(config)));
      } else await trainer.#run.start(configText);
      const extra = await Promise.allSettled(
        Array.from(
          { length: config.train.workers - 1 },
          () => ReplicaWorker.start(config, options.backend ?? "auto"),
        ),
      );
      // the started ones are closed by dispose() when another failed
      trainer.#workers = extra.flatMap((e) => e.status === "fulfilled" ? [e.value] : []);
      const failed = extra.find((e) => e.status === "rejected");
      if (failed) throw failed.reason;
    } catch (error) {
      await trainer.dispose();
      throw error;
    }
    return trainer;
  }

  /** Iterations completed. */
  get iteration(): number {
    return this.#iteration;
  }

  /** The adapter's current (non-EMA) variables; the base never changes. */
  get adapter(): LoraAdapter {
    return this.#replica.adapter;
  }

  /** The frozen base network. */
  get model(): TfFlowMap {
    return this.#replica.model;
  }

  /** Asks the run to stop after the current iteration (checkpoint saved). */
  requestStop(): void {
    this.#stop = true;
  }

  /** Whether a stop was requested. */
  get stopRequested(): boolean {
    return this.#stop;
  }

  /**
   * Runs until `train.iterations` are done, the time budget `train.maxMinutes`
   * is spent (then the last iteration is evaluated), or a stop is requested.
   */
  async run(): Promise<RunSummary> {
    const { train, eval: evalConfig } = this.#config;
    const metrics: IterationMetrics[] = [];
    const seconds = { rollout: 0, reward: 0, update: 0, eval: 0 };
    let evaluation: EvalReport | undefined;
    const started = performance.now();
    const startIteration = this.#iteration;
    let savedAt = this.#iteration;
    const overBudget = () =>
      train.maxMinutes > 0 && (performance.now() - started) / 60_000 >= train.maxMinutes;
    while (this.#iteration < train.iterations && !this.#stop && !overBudget()) {
      const m = await this.#step();
      let evalSeconds = 0;
      const due = evalConfig.every > 0 && this.#iteration % evalConfig.every === 0;
      // the last iteration of the run (by count or by time budget) is always evaluated
      if (due || this.#iteration === train.iterations || overBudget()) {
        const t0 = performance.now();
        evaluation = await this.evaluate();
        evalSeconds = (performance.now() - t0) / 1000;
      }
      const line = { ...m, seconds: { ...m.seconds, eval: evalSeconds } };
      metrics.push(line);
      for (const key of Object.keys(seconds) as (keyof typeof seconds)[]) {
        seconds[key] += line.seconds[key];
      }
      await this.#run.appendMetrics(line);
      const elapsed = (performance.now() - started) / 1000;
      const byCount = (elapsed / (this.#iteration - startIteration)) *
        (train.iterations - this.#iteration);
      const byBudget = train.maxMinutes > 0 ? train.maxMinutes * 60 - elapsed : Infinity;
      this.#options.log(progressLine(line, train.iterations, Math.min(byCount, byBudget)));
      savedAt = this.#iteration % train.checkpointEvery === 0 ? this.#iteration : savedAt;
      if (savedAt === this.#iteration) await this.saveCheckpoint();
    }
    if (savedAt !== this.#iteration) await this.saveCheckpoint();
    await writeRewardCurve(this.#run);
    const summary = {
      iterations: this.#iteration,
      interrupted: this.#stop,
      metrics,
      evaluation,
      seconds,
    };
    await writeFileAtomic(
      this.#run.summary,
      JSON.stringify({ ...summary, metrics: undefined }, null, 2) + "\n",
    );
    return summary;
  }

  /** One iteration: rollout, reward, advantages, update. */
  async #step(): Promise<IterationMetrics> {
    const config = this.#config;
    const { rollout: r, objective, optimizer, advantage } = config;
    const iteration = this.#iteration;
    const prompts = kRepeatPrompts(splitPrompts("train"), r.prompts, r.groupSize, {
      seed: config.train.seed,
      iteration,
    });
    const { data, rewards, stepRewards, seconds } = await this.#scoredRollout(prompts);
    const updateStart = performance.now();
    const advantages = computeAdvantages(
      { rewards, prompts, stepRewards, stochasticSteps: r.stochasticSteps },
      advantage,
    );
    const stats = await updatePolicy(
      {
        policy: this.#replica.policy,
        adapter: this.#replica.adapter,
        optimizer: this.#optimizer,
        ema: this.#ema,
        objective,
        microBatch: r.microBatch,
        accumulation: optimizer.accumulation,
        innerEpochs: optimizer.innerEpochs,
        seed: config.train.seed,
        iteration,
        peers: this.#workers,
      },
      data,
      advantages,
    );
    const update = (performance.now() - updateStart) / 1000;
    this.#iteration += 1;
    const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
    const std = Math.sqrt(rewards.reduce((a, b) => a + (b - mean) ** 2, 0) / rewards.length);
    return {
      iteration: this.#iteration,
      rewardMean: mean,
      rewardStd: std,
      trajectories: prompts.length,
      ...stats,
      seconds: { ...seconds, update, eval: 0 },
      trajectoriesPerSecond: prompts.length / (seconds.rollout + seconds.reward + update),
    };
  }

  /**
   * This iteration's rollout of `prompts` by every worker, each taking a
   * contiguous slice of its micro-batches (this thread the first), with the
   * current (not the EMA) adapter, and scored. The slices draw the noise of
   * their places, so the joined rollout is the one a single worker makes.
   * Each worker scores its own slice with the config's reward; a substituted
   * reward scores every slice here, each as it arrives. The seconds are this
   * thread's: scoring, and the rest of the phase.
   */
  async #scoredRollout(
    prompts: readonly string[],
  ): Promise<ScoredRollout & { seconds: { rollout: number; reward: number } }> {
    const workers = this.#workers, { microBatch } = this.#config.rollout;
    const batches = prompts.length / microBatch;
    const cut = (i: number) => Math.floor((i * batches) / (workers.length + 1)) * microBatch;
    const slice = (i: number) => ({
      prompts: prompts.slice(cut(i), cut(i + 1)),
      seed: this.#config.train.seed,
      iteration: this.#iteration,
      first: cut(i),
    });
    const weights = workers.length > 0 ? this.#replica.weights() : [];
    const started = performance.now();
    let scoring = 0;
    const score = async (data: Rollout, first: number) => {
      const t0 = performance.now();
      const scored = await scoreRollout(this.#reward, data, first);
      scoring += performance.now() - t0;
      return scored;
    };
    const remote = workers.map((worker, i) =>
      this.#options.reward === undefined // the config's: every worker has it
        ? worker.scoredRollout(weights, slice(i + 1))
        : worker.rollout(weights, slice(i + 1)).then((data) => score(data, cut(i + 1)))
    );
    const [local, others] = await alongside(
      remote,
      async () => score(await this.#replica.rollout(rolloutOptions(this.#config, slice(0))), 0),
    );
    const joined = joinScored([local, ...others]);
    const total = performance.now() - started;
    return { ...joined, seconds: { rollout: (total - scoring) / 1000, reward: scoring / 1000 } };
  }

  /** The EMA adapter as a PEFT-keyed safetensors file. */
  exportAdapter(): Uint8Array {
    return this.#replica.adapter.safetensors({
      trainer: "flow-map-grpo",
      run: this.#config.name,
      iteration: String(this.#iteration),
    }, this.#ema.values);
  }

  /**
   * Evaluates base and EMA adapter on held-out prompts (same seeds, every K)
   * and writes the table, the sample grid and the exported adapter.
   */
  async evaluate(): Promise<EvalReport> {
    const e = this.#config.eval;
    const adapterBytes = this.exportAdapter();
    await writeFileAtomic(this.#run.adapter, adapterBytes);
    const served = await this.#served();
    const plan = {
      prompts: heldOutPrompts(e.prompts),
      seedsPerPrompt: e.seedsPerPrompt,
      seed: e.seed,
      steps: e.steps,
      batch: this.#options.evalBatch ?? 32,
    };
    this.#baseEval ??= await evaluateSampler(served.base, plan);
    const trainedSampler = await served.withAdapter(adapterBytes);
    const trained = await evaluateSampler(trainedSampler, plan);
    await trainedSampler.dispose();
    const report = await writeEvaluation(this.#run, {
      iteration: this.#iteration,
      seedsPerPrompt: plan.seedsPerPrompt,
      base: this.#baseEval,
      trained,
    });
    return report;
  }

  /** Writes the checkpoint and the EMA adapter, each atomically. */
  async saveCheckpoint(): Promise<void> {
    await writeFileAtomic(this.#run.adapter, this.exportAdapter());
    const state = this.#optimizer.state();
    const bytes = encodeRunState({
      iteration: this.#iteration,
      seed: this.#config.train.seed,
      names: this.#names,
      shapes: this.#replica.adapter.variables.map((v) => v.shape),
      weights: this.#replica.weights(),
      ema: this.#ema.values,
      optimizerStep: state.step,
      m: state.m,
      v: state.v,
    });
    await writeFileAtomic(this.#run.checkpoint, bytes);
  }

  /** Stops the extra workers; frees the model, the adapter and the inference sessions. */
  async dispose(): Promise<void> {
    for (const worker of this.#workers) worker.close();
    await this.#replica.dispose();
    if (this.#servedModel) await (await this.#servedModel).base.dispose();
  }

  /** The base served through the SDK, loaded on first use. */
  #served(): Promise<ServedModel> {
    this.#servedModel ??= servedModel(this.#base.served);
    return this.#servedModel;
  }

  /** Restores weights, EMA, optimiser and iteration from a checkpoint's bytes. */
  async #restore(bytes: Uint8Array): Promise<void> {
    const state = decodeRunState(bytes);
    if (state.names.join() !== this.#names.join() || state.seed !== this.#config.train.seed) {
      throw new ResumeError(
        "cannot resume: the checkpoint's adapter or seed differs from the config",
      );
    }
    this.#replica.load(state.weights);
    this.#ema.load(state.ema);
    this.#optimizer.load({ step: state.optimizerStep, m: state.m, v: state.v });
    this.#iteration = state.iteration;
    await this.#run.keepMetricsUpTo(state.iteration);
  }
}

/**
 * Whether a saved `config.json` describes the run `config` continues: the
 * same fields but for `train.workers`, which changes how a run computes, not
 * what (and a config saved before the field existed reads it as 1).
 */
function sameRun(config: TrainConfig): (saved: string) => boolean {
  const result = ({ train: { workers: _, ...train }, ...rest }: TrainConfig) =>
    JSON.stringify({ ...rest, train });
  return (saved) => {
    try {
      return result(validateTrainConfig(JSON.parse(saved))) === result(config);
    } catch {
      return false;
    }
  };
}
