/**
 * File helpers the apps share.
 *
 * @module
 */

/**
 * Whether something is at `path` (a path or a file URL); a dangling symlink
 * counts, being there to be overwritten or refused. Only "not found" is
 * `false`; any other failure to look (a permission, an I/O error) is thrown,
 * not taken for absence.
 *
 * @example
 * ```ts
 * import { exists } from "./files.ts";
 * await exists("deno.json"); // true
 * ```
 */
export async function exists(path: string | URL): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
