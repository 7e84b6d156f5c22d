import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { resolveWorkerId, WORKER_ID_FILE } from "./worker-identity.js";

describe("resolveWorkerId", () => {
  const homes: string[] = [];
  const home = async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "aetherium-worker-id-"));
    homes.push(dir);
    return dir;
  };
  afterEach(async () => {
    for (const dir of homes.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it("generates an id once per home and keeps it", async () => {
    const a = await home();
    const id = resolveWorkerId({ home: a, worker: {} });
    expect(id).toMatch(/^[a-z0-9][a-z0-9_.-]*-[0-9a-f]{8}$/);
    expect((await readFile(path.join(a, WORKER_ID_FILE), "utf8")).trim()).toBe(id);
    expect(resolveWorkerId({ home: a, worker: {} })).toBe(id);
    // A second install on the same host gets another id.
    expect(resolveWorkerId({ home: await home(), worker: {} })).not.toBe(id);
  });

  it("uses the configured id, and refuses a kept file that holds no id", async () => {
    const a = await home();
    expect(resolveWorkerId({ home: a, worker: { id: "w-1" } })).toBe("w-1");
    await writeFile(path.join(a, WORKER_ID_FILE), "no/such id\n");
    expect(() => resolveWorkerId({ home: a, worker: {} })).toThrow(/holds no valid worker id/);
  });
});
