import assert from "node:assert/strict";
import { join } from "node:path";
import { exists } from "../../cli/files.ts";

Deno.test("exists: a file, a missing path, a dangling symlink; other failures are thrown", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "a"), "");
    await Deno.symlink(join(dir, "nowhere"), join(dir, "link"));
    assert.equal(await exists(join(dir, "a")), true);
    assert.equal(await exists(join(dir, "nowhere")), false);
    assert.equal(await exists(join(dir, "link")), true, "a dangling link is there");
    // a path through a file is not "not found" but an error
    await assert.rejects(exists(join(dir, "a", "b")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
