import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentRpcError } from "./rpc-error.js";
import { resolveUser } from "./users.js";

describe("resolveUser", () => {
  let dir: string;
  let passwd: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "aet-users-"));
    passwd = path.join(dir, "passwd");
    await writeFile(
      passwd,
      "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken-line\ndev:x:1000:1001:Dev:/home/dev:/bin/sh\n",
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("finds users by name, uid and numeric string", async () => {
    expect(await resolveUser("dev", passwd)).toEqual({
      uid: 1000,
      gid: 1001,
      name: "dev",
      home: "/home/dev",
    });
    expect((await resolveUser(0, passwd)).name).toBe("root");
    expect((await resolveUser("1000", passwd)).gid).toBe(1001);
  });

  it("accepts a uid without an entry, with its own uid as gid", async () => {
    expect(await resolveUser(4242, passwd)).toEqual({
      uid: 4242,
      gid: 4242,
      name: undefined,
      home: undefined,
    });
  });

  it("refuses an unknown name", async () => {
    await expect(resolveUser("ghost", passwd)).rejects.toBeInstanceOf(AgentRpcError);
  });
});
