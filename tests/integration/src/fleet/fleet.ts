import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TEST_ENCRYPTION_KEY } from "@aetherium/testing";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../../../..");

/** A worker process started for a test. */
export interface WorkerProcess {
  readonly id: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<number | string | null>;
  output(): string;
}

/**
 * Starts a real worker process (see `worker-process.ts`) against the given database and Redis,
 * and resolves once it has registered and prints `ready`.
 */
export async function startWorkerProcess(options: {
  id: string;
  databaseUrl: string;
  redisUrl: string;
  keyPrefix: string;
  zone?: string;
  maxVms?: number;
  vcpus?: number;
  heartbeatMs?: number;
}): Promise<WorkerProcess> {
  const child = spawn(
    process.execPath,
    ["--conditions=@aetherium/source", "--import", "tsx", path.join(here, "worker-process.ts")],
    {
      cwd: repo,
      env: {
        ...process.env,
        AETHERIUM_DATABASE_URL: options.databaseUrl,
        AETHERIUM_REDIS_URL: options.redisUrl,
        AETHERIUM_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
        AETHERIUM_REDIS__KEY_PREFIX: options.keyPrefix,
        AETHERIUM_WORKER_ID: options.id,
        AETHERIUM_WORKER__ZONE: options.zone ?? "default",
        AETHERIUM_WORKER__CAPACITY__MAX_VMS: String(options.maxVms ?? 10),
        // Room for every test sandbox whatever this host has: the handlers start none for real.
        AETHERIUM_WORKER__CAPACITY__VCPUS: String(options.vcpus ?? 8),
        AETHERIUM_WORKER__CAPACITY__MEMORY_MB: "16384",
        AETHERIUM_WORKER__HEARTBEAT_MS: String(options.heartbeatMs ?? 300),
        AETHERIUM_WORKER__OFFLINE_AFTER_MS: String((options.heartbeatMs ?? 300) * 4),
        TEST_RUNS_PREFIX: `${options.keyPrefix}runs:`,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (out += c));
  const exited = new Promise<number | string | null>((r) =>
    child.once("exit", (code, signal) => r(code ?? signal)),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker ${options.id} not ready in 30 s:\n${out}`)),
      30_000,
    );
    const onData = () => {
      if (out.includes(`ready ${options.id}`)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${options.id} exited (${code}) before it was ready:\n${out}`));
    });
  });
  return { id: options.id, child, exited, output: () => out };
}

/** Polls `fn` every 50 ms until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
