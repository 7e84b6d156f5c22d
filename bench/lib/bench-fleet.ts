// The distributed install the user-facing benches measure: real `aetherium gateway` and
// `aetherium worker` processes on a fresh PostgreSQL database and a Redis prefix of their own.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { AETHERIUM_MAIN, runAetherium, type AetheriumProcess } from "@aetherium/e2e";
import { createTestDatabase, createTestRedis } from "@aetherium/testing";

const run = promisify(execFile);

/** A migrated database and Redis prefix, and the processes started on them. */
export interface BenchFleet {
  readonly databaseUrl: string;
  readonly apiKey: string;
  /** Starts a worker under `id` with a home of its own; `extra` adds or overrides settings. */
  startWorker(id: string, extra?: Record<string, string>): Promise<AetheriumProcess>;
  /** Starts a gateway and resolves with it and its URL. */
  startGateway(): Promise<{ process: AetheriumProcess; url: string }>;
  /** Stops every process started here, then drops the database, the keys and the homes. */
  close(): Promise<void>;
}

/**
 * Opens a fleet for a bench named `name`. The per-key rate limit is off: a bench drives one key
 * far harder than the limit allows, and measures the platform, not its limiter.
 */
export async function openBenchFleet(name: string): Promise<BenchFleet> {
  const db = await createTestDatabase();
  const redis = await createTestRedis();
  const home = await mkdtemp(path.join(tmpdir(), `aet-bench-${name}-`));
  const apiKey = `ak_${randomBytes(32).toString("base64url")}`;
  // Gateways and workers share it: a worker's data-plane token is stored sealed with it.
  const encryptionKey = randomBytes(32).toString("base64");
  const procs: AetheriumProcess[] = [];
  const env = (extra: Record<string, string>) => ({
    AETHERIUM_DATABASE_URL: db.url,
    AETHERIUM_REDIS_URL: redis.url,
    AETHERIUM_REDIS__KEY_PREFIX: redis.prefix,
    AETHERIUM_API_KEY: apiKey,
    AETHERIUM_ENCRYPTION_KEY: encryptionKey,
    AETHERIUM_PORT: "0",
    AETHERIUM_WORKER__INTERNAL_PORT: "0",
    AETHERIUM_RATE_LIMIT: "0",
    ...extra,
  });
  const close = async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await redis.cleanup().catch(() => undefined);
    await db.drop();
    await rm(home, { recursive: true, force: true });
  };
  try {
    await run(process.execPath, [AETHERIUM_MAIN, "migrate", "up"], {
      env: { ...process.env, AETHERIUM_DATABASE_URL: db.url },
    });
  } catch (err) {
    await close();
    throw err;
  }
  return {
    databaseUrl: db.url,
    apiKey,
    async startWorker(id, extra = {}) {
      const worker = await runAetherium(
        ["worker"],
        env({ AETHERIUM_WORKER_ID: id, AETHERIUM_HOME: path.join(home, id), ...extra }),
        /worker \S+ running/,
      );
      procs.push(worker);
      return worker;
    },
    async startGateway() {
      const gateway = await runAetherium(
        ["gateway"],
        env({ AETHERIUM_HOME: path.join(home, `gateway-${procs.length}`) }),
        /gateway running at (http:\/\/\S+)/,
      );
      procs.push(gateway);
      return { process: gateway, url: gateway.match[1]! };
    },
    close,
  };
}
