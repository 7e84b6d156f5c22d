import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Config, Logger } from "@aetherium/common";

/** Where a process without a configured encryption key keeps the one it made, under `home`. */
export const ENCRYPTION_KEY_FILE = "encryption.key";

/**
 * The installation's encryption key: `secrets.encryptionKey` when configured. Embedded (one
 * process) it may be left out: then the one kept in `<home>/encryption.key` is used, or a new
 * one written there (mode 0600). Distributed, a missing key is refused: gateways and workers
 * must share one, or what one process sealed (workspace secrets, sandbox env, worker tokens)
 * would not open in another.
 */
export async function resolveEncryptionKey(
  config: Config,
  options: { logger: Logger; distributed: boolean },
): Promise<string> {
  if (config.secrets.encryptionKey) return config.secrets.encryptionKey;
  if (options.distributed) throw new MissingEncryptionKeyError();
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
  options.logger.debug({ file }, "using the encryption key kept under home");
  return key;
}

/** A distributed process was started without `secrets.encryptionKey`. */
export class MissingEncryptionKeyError extends Error {
  constructor() {
    super(
      "secrets.encryptionKey is not set: with a shared database and Redis every gateway and worker needs the same key (set AETHERIUM_ENCRYPTION_KEY, e.g. to the output of `openssl rand -base64 32`)",
    );
    this.name = "MissingEncryptionKeyError";
  }
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
