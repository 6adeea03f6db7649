/**
 * The `train` task's command line as deno.json declares it, so benchmarks
 * run what users run (its V8 flags included).
 *
 * @module
 */

/**
 * The arguments after `deno` of the `train` task, e.g.
 * `["run", "-A", "--v8-flags=--single-threaded-gc", "trainer/train.ts"]`.
 *
 * @example
 * ```ts ignore
 * import { trainTaskArgs } from "./train_task.ts";
 * const child = new Deno.Command(Deno.execPath(), { args: [...await trainTaskArgs(), "--help"] });
 * ```
 */
export async function trainTaskArgs(): Promise<string[]> {
  const { tasks } = JSON.parse(await Deno.readTextFile("deno.json")) as {
    tasks: Record<string, string>;
  };
  const [deno, ...args] = tasks.train.split(/\s+/);
  if (deno !== "deno") throw new Error(`the train task does not start with deno: ${tasks.train}`);
  return args;
}
