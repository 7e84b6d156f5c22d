import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import path from "node:path";
import { ConflictError, type Logger } from "@aetherium/common";
import { workerIdSchema } from "@aetherium/types";
import type { Repositories } from "@aetherium/core";

/** Name of the file under the worker's home that keeps its generated id. */
export const WORKER_ID_FILE = "worker-id";

/**
 * This worker's id: the configured one, else the one kept in `<home>/worker-id`, else a new
 * `<hostname>-<8 hex>` written there. Generated rather than the bare host name, so two installs
 * on one host (or two workers sharing a home directory's host) never share an id and never take
 * each other's containers for their own; kept, so a restart reclaims its sandboxes.
 */
export function resolveWorkerId(config: {
  readonly home: string;
  readonly worker: { readonly id?: string | undefined };
}): string {
  if (config.worker.id) return config.worker.id;
  const file = path.resolve(config.home, WORKER_ID_FILE);
  const kept = readKept(file);
  if (kept) return kept;
  const id = `${hostLabel()}-${randomBytes(4).toString("hex")}`;
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    // `wx`: of two processes starting on one home at once, the first one's id wins for both.
    writeFileSync(file, `${id}\n`, { flag: "wx", mode: 0o644 });
    return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const other = readKept(file);
    if (!other) throw new Error(`${file} holds no valid worker id; remove it or set worker.id`);
    return other;
  }
}

function readKept(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if (!workerIdSchema.safeParse(text).success) {
    throw new Error(`${file} holds no valid worker id; remove it or set worker.id`);
  }
  return text;
}

/** The host name as an id prefix: id characters only, short enough to leave room for the suffix. */
function hostLabel(): string {
  const label = osHostname()
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 100);
  return label || "worker";
}

/** Another live process already runs under this worker id. */
export class WorkerIdInUseError extends ConflictError {}

/** Options of {@link claimWorkerId}. */
export interface ClaimWorkerIdOptions {
  /** How often workers heartbeat; the row is polled at this pace (at most every second). */
  readonly heartbeatMs: number;
  /** Silence after which a worker counts as gone; the longest this waits. */
  readonly offlineAfterMs: number;
  readonly logger?: Logger;
}

/**
 * Refuses to run a second process under a worker id that a live one uses: such a pair would
 * share one queue and one set of sandbox records, each reconciling the other's sandboxes away.
 * An id whose row is offline, unknown or silent for `offlineAfterMs` is free at once. One whose
 * last heartbeat is recent may belong to a live process or to one that just crashed; the row is
 * watched until either its heartbeat moves (live: {@link WorkerIdInUseError}) or it has been
 * silent for `offlineAfterMs` (crashed: free).
 */
export async function claimWorkerId(
  repos: Repositories,
  id: string,
  options: ClaimWorkerIdOptions,
): Promise<void> {
  const first = await repos.workers.get(id);
  if (!first || first.status === "offline") return;
  const seen = first.lastSeenAt.getTime();
  const silentFor = Date.now() - seen;
  if (silentFor >= options.offlineAfterMs) return;
  const waitMs = options.offlineAfterMs - Math.max(0, silentFor);
  options.logger?.info(
    { workerId: id, lastSeenAt: first.lastSeenAt, waitMs },
    "worker id heartbeated recently: waiting to see whether its process is alive",
  );
  const pollMs = Math.max(50, Math.min(1000, Math.floor(options.heartbeatMs / 2)));
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
    const row = await repos.workers.get(id);
    if (!row || row.status === "offline") return;
    if (row.lastSeenAt.getTime() !== seen) {
      throw new WorkerIdInUseError(
        `worker id ${id} is in use by a live worker (host ${row.hostname}, last heartbeat ${row.lastSeenAt.toISOString()}): ` +
          `give this worker another id (worker.id / AETHERIUM_WORKER_ID) or its own home (AETHERIUM_HOME), or stop the other one`,
      );
    }
  }
}
