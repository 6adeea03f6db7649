/**
 * The shared shape of the project's command-line entry points: parse, print
 * `--help`, run, and turn every failure into one line on stderr with an exit
 * code (2 for bad arguments, 1 for failures) — never a stack trace.
 *
 * @module
 */

/**
 * A bad flag or value: `runCommand` prints its message and exits 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./command.ts";
 * new UsageError("--n must be a positive integer").name; // "UsageError"
 * ```
 */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Runs a command and returns its exit code.
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
  args: string[],
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
    parsed = command.parse(args);
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
    return 1;
  }
}

/** An error's message on one line. */
export function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ");
}
