import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Config, Logger } from "@aetherium/common";

/** Where a process without a configured encryption key keeps the one it made, under `home`. */
export const ENCRYPTION_KEY_FILE = "encryption.key";

/**
 * The installation's encryption key: `secrets.encryptionKey` when configured, else the one kept
 * in `<home>/encryption.key`, else a new one written there (mode 0600). Processes sharing a home
 * share it; gateways and workers on different machines must be given the same configured key,
 * or a gateway cannot open the tokens its workers registered (it then says so per request).
 */
export async function resolveEncryptionKey(
  config: Config,
  options: { logger: Logger; distributed: boolean },
): Promise<string> {
  if (config.secrets.encryptionKey) return config.secrets.encryptionKey;
  const file = path.resolve(config.home, ENCRYPTION_KEY_FILE);
  let key = (await readFile(file, "utf8").catch(() => "")).trim();
  if (!key) {
    key = randomBytes(32).toString("base64");
    await mkdir(path.dirname(file), { recursive: true });
    // `wx`: of several processes starting together on one home, the first one's key wins.
    const wrote = await writeFile(file, `${key}\n`, { mode: 0o600, flag: "wx" }).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST") throw err;
        return false;
      },
    );
    if (wrote) await chmod(file, 0o600);
    else key = await readWhenWritten(file);
  }
  if (options.distributed) {
    options.logger.warn(
      { file },
      "secrets.encryptionKey is not set: using the key kept under home; every gateway and worker must share it (set AETHERIUM_ENCRYPTION_KEY to the same value everywhere)",
    );
  }
  return key;
}

// Another process created the file a moment ago and may not have written it yet.
async function readWhenWritten(file: string): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const key = (await readFile(file, "utf8")).trim();
    if (key) return key;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${file} is empty: delete it, or set secrets.encryptionKey`);
}
