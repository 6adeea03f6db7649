/**
 * The adapter store over HTTP: `GET /v1/adapters` (list), `GET`, `PUT` (raw
 * safetensors body, `application/octet-stream`) and `DELETE
 * /v1/adapters/:name`. Writes need the admin token; uploads are size-capped,
 * parsed, checked against the model's LoRA targets and stored atomically.
 *
 * @module
 */

import { Hono, type MiddlewareHandler } from "hono";
import { LoraError, SafetensorsError } from "../../mod.ts";
import {
  type AdapterStore,
  type InvalidAdapter,
  isStoredAdapter,
  type StoredAdapter,
} from "../adapters.ts";
import { ApiError } from "../errors.ts";
import { adminOnly } from "../middleware/admin.ts";
import { limitBody, requireMediaType } from "../middleware/body.ts";
import { adapterName } from "../validate.ts";

/** LoRA errors that mean "a valid adapter, but not for this model". */
const MISMATCH_CODES: readonly string[] = ["unknown_module", "shape_mismatch"];

/** The adapter routes over `store`; writes need `adminToken` (none: writes disabled). */
export function adaptersRoute(
  store: AdapterStore,
  adminToken: string | undefined,
  maxAdapterBytes: number,
): Hono {
  const admin = adminOnly(adminToken);
  return new Hono()
    .get("/v1/adapters", async (c) => {
      const entries = await store.list();
      return c.json({ object: "list", data: entries.map(describe) });
    })
    .get("/v1/adapters/:name", validName, async (c) => {
      const name = c.req.param("name");
      const found = await store.get(name);
      if (found === undefined) throw notFound(name);
      return c.json(describe(found));
    })
    .put(
      "/v1/adapters/:name",
      admin,
      validName,
      requireMediaType("application/octet-stream"),
      limitBody(maxAdapterBytes),
      async (c) => {
        const name = c.req.param("name");
        const bytes = new Uint8Array(await c.req.arrayBuffer());
        if (bytes.length === 0) {
          throw new ApiError(400, "empty_body", "the request body must be a safetensors file");
        }
        const { stored, created } = await put(store, name, bytes);
        return c.json(describe(stored), created ? 201 : 200, {
          Location: `/v1/adapters/${name}`,
        });
      },
    )
    .delete("/v1/adapters/:name", admin, validName, async (c) => {
      const name = c.req.param("name");
      if (!(await store.delete(name))) throw notFound(name);
      return c.body(null, 204);
    });
}

const validName: MiddlewareHandler = async (c, next) => {
  adapterName(c.req.param("name") ?? "", "name");
  await next();
};

async function put(store: AdapterStore, name: string, bytes: Uint8Array) {
  try {
    return await store.put(name, bytes);
  } catch (error) {
    if (error instanceof SafetensorsError) {
      throw new ApiError(
        400,
        "invalid_safetensors",
        `not a valid safetensors file: ${error.message}`,
      );
    }
    if (error instanceof LoraError && MISMATCH_CODES.includes(error.code)) {
      throw new ApiError(
        422,
        "adapter_mismatch",
        `the adapter does not fit the model: ${error.message}`,
      );
    }
    if (error instanceof LoraError) {
      throw new ApiError(400, "invalid_adapter", `not a valid LoRA adapter: ${error.message}`);
    }
    throw error;
  }
}

function describe(entry: StoredAdapter | InvalidAdapter) {
  if (!isStoredAdapter(entry)) {
    return { name: entry.name, error: { code: "adapter_unusable", message: entry.error } };
  }
  const modules = [...entry.adapter.modules.values()];
  return {
    name: entry.name,
    sha256: entry.sha256,
    bytes: entry.bytes,
    modified: entry.modified?.toISOString() ?? null,
    modules: modules.length,
    rank: Math.max(...modules.map((module) => module.rank)),
  };
}

function notFound(name: string): ApiError {
  return new ApiError(404, "adapter_not_found", `no adapter named ${JSON.stringify(name)}`);
}
