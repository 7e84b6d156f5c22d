import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, loadConfig } from "@aetherium/common";
import { afterAll, describe, expect, it } from "vitest";
import {
  ENCRYPTION_KEY_FILE,
  MissingEncryptionKeyError,
  resolveEncryptionKey,
} from "./encryption-key.js";

const logger = createLogger({ level: "silent", service: "encryption-key-test" });
const homes: string[] = [];
afterAll(async () => {
  for (const home of homes) await rm(home, { recursive: true, force: true });
});

async function freshHome(): Promise<string> {
  const home = await mkdtemp(path.join(tmpdir(), "aet-key-"));
  homes.push(home);
  return home;
}

describe("the encryption key", () => {
  it("distributed: refuses to start without a configured key, and writes none", async () => {
    const home = await freshHome();
    const config = loadConfig({ env: { AETHERIUM_HOME: home } });
    await expect(resolveEncryptionKey(config, { logger, distributed: true })).rejects.toThrow(
      MissingEncryptionKeyError,
    );
    await expect(stat(path.join(home, ENCRYPTION_KEY_FILE))).rejects.toThrow(/ENOENT/);
    const configured = "c".repeat(44);
    const withKey = loadConfig({
      env: { AETHERIUM_HOME: home, AETHERIUM_ENCRYPTION_KEY: configured },
    });
    expect(await resolveEncryptionKey(withKey, { logger, distributed: true })).toBe(configured);
  });

  it("embedded: made once, kept in home with mode 0600, the same on the next start", async () => {
    const home = await freshHome();
    const config = loadConfig({ env: { AETHERIUM_HOME: home } });
    const first = await resolveEncryptionKey(config, { logger, distributed: false });
    const info = await stat(path.join(home, ENCRYPTION_KEY_FILE));
    expect(info.mode & 0o777).toBe(0o600);
    expect(await resolveEncryptionKey(config, { logger, distributed: false })).toBe(first);
    expect(Buffer.from(first, "base64")).toHaveLength(32);
  });
});
