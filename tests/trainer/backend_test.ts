import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  BACKEND_REQUESTS,
  BackendUnavailableError,
  parseBackendRequest,
  selectBackend,
  STOCK_CPU_WARNING,
} from "../../trainer/backend.ts";
import { BLAS_LIB_ENV, tryLoadBlas } from "../../kernels/blas.ts";

tf.env().set("PROD", true);
const MISSING_LIBRARY = "/nonexistent/libopenblas-missing.so";
const blasMissing = tryLoadBlas() instanceof Error;
const notInstalled = () => Promise.reject(new Error("not a dependency"));

function collect(): { log: (message: string) => void; messages: string[] } {
  const messages: string[] = [];
  return { log: (message) => messages.push(message), messages };
}

Deno.test("parseBackendRequest accepts the five names and explains a wrong one", () => {
  for (const name of BACKEND_REQUESTS) assert.equal(parseBackendRequest(name), name);
  assert.throws(() => parseBackendRequest("gpu"), /unknown backend "gpu"; use one of: auto, /);
});

Deno.test("cpu selects TF.js's stock CPU kernels", async () => {
  const { log, messages } = collect();
  const choice = await selectBackend("cpu", log);
  assert.deepEqual([choice.name, choice.tfBackend, tf.getBackend()], ["cpu", "cpu", "cpu"]);
  assert.equal(tf.getKernel("FlowmapGelu", "cpu"), undefined);
  assert.match(messages[0], /^backend: cpu — TF\.js stock CPU kernels/);
  assert.equal(messages.length, 1, "asking for cpu is not warned about");
});

Deno.test("a requested tfjs-node backend that is missing says how to install it", async () => {
  for (const [name, pkg] of [["tensorflow", "tfjs-node"], ["tensorflow-gpu", "tfjs-node-gpu"]]) {
    await assert.rejects(
      selectBackend(name as "tensorflow", () => {}),
      (error: unknown) => {
        assert.ok(error instanceof BackendUnavailableError);
        assert.match(error.message, new RegExp(`deno add npm:@tensorflow/${pkg}@`));
        return true;
      },
    );
  }
});

Deno.test("a tfjs-node package that registers no backend is reported, not used", async () => {
  await assert.rejects(
    selectBackend("tensorflow", () => {}, { importPackage: () => Promise.resolve({}) }),
    /registered no "tensorflow" backend/,
  );
});

Deno.test("blas with a missing library is a clear error naming the fix", async () => {
  await assert.rejects(
    selectBackend("blas", () => {}, { blasLibrary: MISSING_LIBRARY }),
    (error: unknown) => {
      assert.ok(error instanceof BackendUnavailableError);
      assert.match(error.message, /libopenblas0-pthread/);
      assert.match(error.message, new RegExp(BLAS_LIB_ENV));
      return true;
    },
  );
});

Deno.test("auto falls back to plain CPU when FLOWMAP_BLAS_LIB points to a missing library", async () => {
  const previous = Deno.env.get(BLAS_LIB_ENV);
  Deno.env.set(BLAS_LIB_ENV, MISSING_LIBRARY);
  try {
    const { log, messages } = collect();
    const choice = await selectBackend("auto", log, { importPackage: notInstalled });
    assert.equal(choice.name, "cpu");
    assert.equal(messages.length, 2);
    assert.match(
      messages[0],
      /skipped tensorflow-gpu: .*, tensorflow: .*, blas: no BLAS library found/,
    );
    assert.equal(messages[1], STOCK_CPU_WARNING);
    assert.match(
      messages[1],
      /^warning: .*many times slower.*apt-get install libopenblas0-pthread/,
    );
  } finally {
    if (previous === undefined) Deno.env.delete(BLAS_LIB_ENV);
    else Deno.env.set(BLAS_LIB_ENV, previous);
  }
});

Deno.test({
  name: "auto picks BLAS when OpenBLAS is installed and libtensorflow is not",
  ignore: blasMissing,
  async fn() {
    const { log, messages } = collect();
    const choice = await selectBackend("auto", log, { importPackage: notInstalled });
    assert.deepEqual([choice.name, choice.tfBackend], ["blas", "cpu"]);
    assert.ok(tf.getKernel("FlowmapGelu", "cpu"));
    assert.match(messages[0], /^backend: blas — OpenBLAS sgemm from /);
    await selectBackend("cpu", () => {});
  },
});
