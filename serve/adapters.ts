/**
 * The adapter store: a directory of `<name>.safetensors` files, the source
 * of truth (files the trainer drops there are picked up on the next request).
 * Parsed adapters are cached per file version (inode, size, modification time),
 * each with the SHA-256 of its bytes, so a replaced file yields a new hash
 * and therefore a new merged-session key. Writes are validated against the
 * model's LoRA targets and land atomically (temporary file, fsync, rename).
 *
 * @module
 */

import { checkLoraAdapters, type LoraAdapter, type LoraTarget, parseLoraAdapter } from "../mod.ts";
import { exists } from "../cli/files.ts";

/** Adapter names: lower-case letters, digits, `_` and `-`, 1–64 characters, no dots or slashes. */
export const ADAPTER_NAME: RegExp = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const SUFFIX = ".safetensors";
const TEMPORARY = /^\..*\.tmp$/;

/** A valid adapter in the store. */
export interface StoredAdapter {
  /** Its name (the file is `<name>.safetensors`). */
  readonly name: string;
  /** SHA-256 of the file's bytes, hex. */
  readonly sha256: string;
  /** File size in bytes. */
  readonly bytes: number;
  /** Last modification of the file. */
  readonly modified: Date | null;
  /** The parsed adapter, checked against the model's targets. */
  readonly adapter: LoraAdapter;
}

/** A file in the adapter directory that is not a usable adapter. */
export interface InvalidAdapter {
  /** Its name. */
  readonly name: string;
  /** Why it cannot be used. */
  readonly error: string;
}

interface CachedVersion {
  readonly ino: number | null;
  readonly size: number;
  readonly mtime: number | undefined;
  readonly result: StoredAdapter | InvalidAdapter;
}

/**
 * Adapters in a directory, validated against one model's LoRA targets.
 *
 * @example
 * ```ts ignore
 * import { AdapterStore } from "./adapters.ts";
 * const store = await AdapterStore.open("adapters", model.info.loraTargets);
 * await store.put("crisp", await Deno.readFile("runs/1/adapter.safetensors"));
 * ```
 */
export class AdapterStore {
  /** The directory holding the adapter files. */
  readonly dir: string;
  readonly #targets: readonly LoraTarget[];
  readonly #versions = new Map<string, CachedVersion>();

  private constructor(dir: string, targets: readonly LoraTarget[]) {
    this.dir = dir;
    this.#targets = targets;
  }

  /**
   * Opens (creating it if needed) an adapter directory and removes temporary
   * files an interrupted upload left behind.
   */
  static async open(dir: string, targets: readonly LoraTarget[]): Promise<AdapterStore> {
    await Deno.mkdir(dir, { recursive: true });
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && TEMPORARY.test(entry.name)) await Deno.remove(`${dir}/${entry.name}`);
    }
    return new AdapterStore(dir, targets);
  }

  /**
   * Parses safetensors bytes as an adapter and checks it fits the model; throws
   * the SDK's `SafetensorsError` or `LoraError` naming what is wrong.
   */
  validate(bytes: Uint8Array): LoraAdapter {
    const adapter = parseLoraAdapter(bytes);
    checkLoraAdapters(this.#targets, [{ adapter, scale: 1 }]);
    return adapter;
  }

  /** Every adapter file, sorted by name: valid ones with their details, others with the reason. */
  async list(): Promise<(StoredAdapter | InvalidAdapter)[]> {
    const names: string[] = [];
    for await (const entry of Deno.readDir(this.dir)) {
      const name = entry.name.slice(0, -SUFFIX.length);
      if (entry.isFile && entry.name.endsWith(SUFFIX) && ADAPTER_NAME.test(name)) names.push(name);
    }
    const found = await Promise.all(names.sort().map((name) => this.#read(name)));
    return found.filter((entry) => entry !== undefined);
  }

  /** The adapter `name`, `undefined` if there is no such file, or why its file is unusable. */
  async get(name: string): Promise<StoredAdapter | InvalidAdapter | undefined> {
    return await this.#read(checkedName(name));
  }

  /**
   * Validates `bytes` and stores them as `name`, replacing any previous
   * version atomically. Returns the stored adapter and whether it is new.
   */
  async put(name: string, bytes: Uint8Array): Promise<{ stored: StoredAdapter; created: boolean }> {
    const adapter = this.validate(bytes);
    const path = this.#path(checkedName(name));
    const temporary = `${this.dir}/.${name}.${crypto.randomUUID()}.tmp`;
    const created = !(await exists(path));
    try {
      await using file = await Deno.open(temporary, { write: true, createNew: true, mode: 0o644 });
      for (let written = 0; written < bytes.length;) {
        written += await file.write(bytes.subarray(written));
      }
      await file.syncData();
    } catch (error) {
      await Deno.remove(temporary).catch(() => {});
      throw error;
    }
    await Deno.rename(temporary, path);
    const stat = await Deno.stat(path);
    const stored: StoredAdapter = {
      name,
      sha256: await sha256(bytes),
      bytes: bytes.length,
      modified: stat.mtime,
      adapter,
    };
    this.#versions.set(name, {
      ino: stat.ino,
      size: stat.size,
      mtime: stat.mtime?.getTime(),
      result: stored,
    });
    return { stored, created };
  }

  /** Deletes the adapter `name`; `false` if there was none. */
  async delete(name: string): Promise<boolean> {
    this.#versions.delete(checkedName(name));
    try {
      await Deno.remove(this.#path(name));
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  async #read(name: string): Promise<StoredAdapter | InvalidAdapter | undefined> {
    const path = this.#path(name);
    let stat: Deno.FileInfo;
    try {
      stat = await Deno.stat(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    const mtime = stat.mtime?.getTime();
    const cached = this.#versions.get(name);
    if (
      cached !== undefined && cached.ino === stat.ino && cached.size === stat.size &&
      cached.mtime === mtime
    ) {
      return cached.result;
    }
    let result: StoredAdapter | InvalidAdapter;
    try {
      const bytes = await Deno.readFile(path);
      result = {
        name,
        sha256: await sha256(bytes),
        bytes: bytes.length,
        modified: stat.mtime,
        adapter: this.validate(bytes),
      };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      result = { name, error: (error as Error).message };
    }
    this.#versions.set(name, { ino: stat.ino, size: stat.size, mtime, result });
    return result;
  }

  #path(name: string): string {
    return `${this.dir}/${name}${SUFFIX}`;
  }
}

/** Whether a {@linkcode AdapterStore.get} result is a usable adapter. */
export function isStoredAdapter(
  entry: StoredAdapter | InvalidAdapter | undefined,
): entry is StoredAdapter {
  return entry !== undefined && "adapter" in entry;
}

function checkedName(name: string): string {
  if (!ADAPTER_NAME.test(name)) {
    throw new RangeError(`adapter name ${JSON.stringify(name)} does not match ${ADAPTER_NAME}`);
  }
  return name;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
