import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Repositories } from "@aetherium/core";
import { apiKeyPrefix, generateApiKey, hashApiKey } from "./api-key-secret.js";

/** Name of the bootstrap key's row, so people can tell it apart in `GET /api-keys`. */
export const BOOTSTRAP_KEY_NAME = "admin (bootstrap)";

/** The admin key a process starts with, and whether it was made just now (then it is shown once). */
export interface BootstrapKey {
  readonly secret: string;
  readonly created: boolean;
  /** Where the secret is kept, when it is kept in a file. */
  readonly file?: string;
}

/**
 * Makes sure an admin key exists (spec/api.md, embedded mode): the configured one (`AETHERIUM_API_KEY`)
 * if set, else the one kept in `<home>/admin.key`, else a new one written there (mode 0600). Only
 * its hash goes to the database; a database that was reset gets the hash again.
 */
export async function ensureBootstrapKey(
  repos: Repositories,
  options: { configuredKey?: string; home: string },
): Promise<BootstrapKey> {
  const file = path.resolve(options.home, "admin.key");
  let secret = options.configuredKey;
  let created = false;
  if (!secret) {
    secret = (await readFile(file, "utf8").catch(() => "")).trim() || undefined;
  }
  if (!secret) {
    secret = generateApiKey().secret;
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
    created = true;
  }
  const hash = hashApiKey(secret);
  if (!(await repos.apiKeys.findByHash(hash))) {
    try {
      await repos.apiKeys.create({
        name: BOOTSTRAP_KEY_NAME,
        keyHash: hash,
        prefix: apiKeyPrefix(secret),
        scopes: ["read", "write", "admin"],
      });
    } catch (err) {
      // Another gateway starting at the same moment stored it first; a revoked copy with the same
      // hash is a key someone revoked on purpose, and stays revoked.
      if (!(await repos.apiKeys.findByHash(hash)) && !isDuplicate(err)) throw err;
    }
  }
  return options.configuredKey ? { secret, created: false } : { secret, created, file };
}

function isDuplicate(err: unknown): boolean {
  return (err as { code?: string }).code === "23505";
}
