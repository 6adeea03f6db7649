/**
 * The shared shape of the project's command-line entry points: parse, print
 * `--help`, run, and turn every failure into one line on stderr with an exit
 * code (2 for bad arguments, 1 for failures) — never a stack trace.
 *
 * Failures the user can act on are {@link ExpectedError}s (a bad config, a
 * missing checkpoint, an unavailable backend): their class says so, and may
 * add a hint; no command recognises an error by its message.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

/**
 * A failure the user caused or can fix (as opposed to a bug): `runCommand`
 * prints its message and {@link ExpectedError.hint} on one line and exits 1.
 *
 * @example
 * ```ts
 * import { ExpectedError } from "./command.ts";
 * class ResumeError extends ExpectedError {}
 * new ResumeError("cannot resume: runs/x/config.json is missing") instanceof ExpectedError; // true
 * ```
 */
export class ExpectedError extends Error {
  /** "ExpectedError" (subclasses name themselves). */
  override name = "ExpectedError";
  /** What to do about it, appended to the message (e.g. "(the last checkpoint is kept: --resume)"). */
  readonly hint?: string;

  /**
   * An expected failure.
   *
   * @param message what went wrong
   * @param options `hint`: what to do about it; `cause`: the underlying error
   */
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.hint !== undefined) this.hint = options.hint;
  }
}

/**
 * A bad flag or value: `runCommand` prints its message and exits 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./command.ts";
 * new UsageError("--n must be a positive integer").name; // "UsageError"
 * ```
 */
export class UsageError extends ExpectedError {
  /** "UsageError". */
  override name = "UsageError";
}

/**
 * Runs a command and returns its exit code: 0, 2 for a {@link UsageError}
 * (parsing throws only those, or errors it meant as such), 1 for any other
 * failure. Every failure is one line `name: message`.
 *
 * @example
 * ```ts
 * import { runCommand } from "./command.ts";
 * const code = await runCommand("echo", ["hi"], {
 *   help: "Usage: echo WORDS",
 *   parse: (args) => (args.includes("--help") ? "help" : args),
 *   run: (words) => console.log(words.join(" ")),
 * });
 * ```
 */
export async function runCommand<C>(
  name: string,
  args: readonly string[],
  command: {
    /** Text printed for `--help`. */
    help: string;
    /** Parses arguments; returns "help" for `--help`, throws on bad input. */
    parse(args: string[]): C | "help";
    /** Does the work. */
    run(parsed: C): Promise<void> | void;
  },
): Promise<number> {
  let parsed: C | "help";
  try {
    parsed = command.parse([...args]);
  } catch (error) {
    console.error(`${name}: ${oneLine(error)}`);
    return 2;
  }
  if (parsed === "help") {
    console.log(command.help);
    return 0;
  }
  try {
    await command.run(parsed);
    return 0;
  } catch (error) {
    console.error(`${name}: ${oneLine(error)}`);
    return error instanceof UsageError ? 2 : 1;
  }
}

/** `parseArgs` option declarations: flag name → `{ type, short?, multiple? }`. */
export type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

/** The values {@link parseFlags} returns for `O`, typed per flag. */
export type Flags<O extends FlagOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>
>["values"];

/**
 * Reads command-line flags strictly (no positionals, no unknown flags); a bad
 * one is a {@link UsageError} whose one line ends "(see --help)". Values stay
 * strings: the field readers of `readers.ts` check them.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./command.ts";
 * const flags = parseFlags(["--n", "4"], { n: { type: "string" }, help: { type: "boolean" } });
 * flags.n; // "4"
 * ```
 */
export function parseFlags<const O extends FlagOptions>(
  args: string[],
  options: O,
  { allowNegative = false }: { allowNegative?: boolean } = {},
): Flags<O> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false, allowNegative })
      .values as Flags<O>;
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split("\n")[0]} (see --help)`);
  }
}

/** An error's message (and an {@link ExpectedError}'s hint) on one line. */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const hint = error instanceof ExpectedError && error.hint !== undefined ? ` ${error.hint}` : "";
  return (message + hint).replace(/\s*\n\s*/g, " ");
}
