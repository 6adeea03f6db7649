/**
 * Work on this thread alongside other workers' answers, with none of their
 * failures left unheard.
 *
 * @module
 */

/**
 * Runs `work()` while `pending` (other workers' answers) are under way, then
 * returns its result with theirs. An answer that fails before `work` is done
 * is held, not reported as unhandled; if `work` throws, the answers are waited
 * for first and its error wins.
 *
 * @example
 * ```ts
 * import { alongside } from "./alongside.ts";
 * const [mine, theirs] = await alongside([Promise.resolve(2)], () => 1); // 1, [2]
 * ```
 */
export async function alongside<T, R>(
  pending: readonly Promise<R>[],
  work: () => T | Promise<T>,
): Promise<[T, R[]]> {
  const answers = Promise.all(pending);
  answers.catch(() => {}); // awaited below: this only marks an early failure as heard
  try {
    return [await work(), await answers];
  } catch (error) {
    await Promise.allSettled(pending);
    throw error;
  }
}
