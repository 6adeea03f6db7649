/**
 * Starts the optional PyTorch reference of `scripts/reference/update_torch.py`
 * on the weights and batch of an {@link UpdatePass}, as a child process that
 * `bench-update --torch` alternates with. Needs `python3` with `torch`;
 * nothing else in the project does.
 *
 * @module
 */

import { join } from "node:path";
import type { UpdatePass } from "./update_pass.ts";

/** The running reference. */
export interface TorchReference {
  /** `torch.__version__`. */
  readonly version: string;
  /** Its objective on the exported weights, before any step. */
  readonly loss: number;
  /** Times `passes` update passes and `passes` forward passes (ms each). */
  time(passes: number): Promise<{ pass: number[]; forward: number[] }>;
  /** Ends the child process and removes its files. */
  close(): Promise<void>;
}

const SCRIPT = new URL("../reference/update_torch.py", import.meta.url);

/** Writes the pass's tensors to a temporary directory and starts the reference on them. */
export async function startTorchReference(
  pass: UpdatePass,
  threads: number,
  python = "python3",
): Promise<TorchReference> {
  const dir = await Deno.makeTempDir({ prefix: "bench-update-torch-" });
  const { tensors, constants } = pass.exportReference();
  const entries: Record<string, { offset: number; shape: readonly number[]; dtype: string }> = {};
  let offset = 0;
  for (const [name, { data, shape }] of tensors) {
    entries[name] = {
      offset,
      shape,
      dtype: data instanceof Int32Array ? "int32" : "float32",
    };
    offset += data.byteLength;
  }
  const bytes = new Uint8Array(offset);
  for (const [name, { data }] of tensors) {
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), entries[name].offset);
  }
  const dataPath = join(dir, "tensors.bin"), manifestPath = join(dir, "manifest.json");
  await Deno.writeFile(dataPath, bytes);
  await Deno.writeTextFile(
    manifestPath,
    JSON.stringify({ data: dataPath, tensors: entries, constants }),
  );
  const child = new Deno.Command(python, {
    args: [SCRIPT.pathname, manifestPath, String(threads)],
    env: {
      OMP_NUM_THREADS: String(threads),
      MKL_NUM_THREADS: String(threads),
      OPENBLAS_NUM_THREADS: String(threads),
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = readLines(child.stdout.pipeThrough(new TextDecoderStream()));
  const writer = child.stdin.getWriter();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error("the PyTorch reference exited early (is torch installed?)");
    return JSON.parse(value);
  };
  const hello = await next() as { version: string; loss: number };
  return {
    version: hello.version,
    loss: hello.loss,
    async time(passes) {
      await writer.write(new TextEncoder().encode(`time ${passes}\n`));
      return await next();
    },
    async close() {
      await writer.write(new TextEncoder().encode("quit\n"));
      await writer.close();
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function* readLines(text: ReadableStream<string>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of text) {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
    }
  }
}
