import { DependencyUnavailableError } from "@aetherium/common";
import { type ControlPlane } from "@aetherium/core";
import { AETHERIUM_VERSION } from "@aetherium/types";
import type { ComponentHealth } from "@aetherium/types";
import type { HealthReport } from "../server/deps.js";

/**
 * Components without which the gateway cannot serve: `/health` answers 503 when one is down, so
 * a load balancer stops sending traffic here. Anything else (workers, sandbox backends) only
 * makes the report `degraded`.
 */
export const REQUIRED_COMPONENTS: readonly string[] = ["database", "queue", "eventBus"];

/** The HTTP status of a health report: 503 when a required component is down, else 200. */
export function healthHttpStatus(report: HealthReport): 200 | 503 {
  const down = REQUIRED_COMPONENTS.some((name) => report.components[name]?.status === "down");
  return down ? 503 : 200;
}

/** `ok` when every component is ok, else `degraded`. */
export function overallStatus(components: HealthReport["components"]): HealthReport["status"] {
  return Object.values(components).every((c) => c.status === "ok") ? "ok" : "degraded";
}

/** The parts of a runtime the probes look at. */
export type ProbedControlPlane = Pick<ControlPlane, "db" | "queue" | "bus" | "workers" | "mode">;

/**
 * Probes the database, the queue and the event bus for real (a query, Redis PINGs), each bounded
 * by `timeoutMs`, in parallel, and, with `workers`, counts healthy workers. A component that
 * fails or does not answer in time is `down` with the reason; the workers line reports a
 * database error as such, never as "0 of 0 workers healthy".
 */
export async function probeRuntime(
  runtime: ProbedControlPlane,
  options: { timeoutMs: number; workers?: boolean },
): Promise<HealthReport["components"]> {
  const { timeoutMs } = options;
  // Optional: an in-process queue or bus has nothing to reach.
  const pingQueue = runtime.queue.ping?.bind(runtime.queue);
  const pingBus = runtime.bus.ping?.bind(runtime.bus);
  const [database, queue, eventBus, workers] = await Promise.all([
    probe(() => runtime.db.ping(), runtime.db.engine, timeoutMs),
    pingQueue ? probe(pingQueue, "bullmq", timeoutMs) : Promise.resolve(ok("in-process")),
    pingBus ? probe(pingBus, "redis pub/sub", timeoutMs) : Promise.resolve(ok("in-process")),
    options.workers === false ? Promise.resolve(undefined) : probeWorkers(runtime, timeoutMs),
  ]);
  return { database, queue, eventBus, ...(workers ? { workers } : {}) };
}

/** The sandbox side of a worker in the same process (`aetherium start`), as health sees it. */
export interface LocalSandboxes {
  /** One line per backend kind: ready, or what is missing. */
  readonly status: readonly { backend: string; ready: boolean; detail: string }[];
  /** The backends ready here. */
  readonly backends: readonly string[];
  readonly ready: boolean;
}

/**
 * The health report of a gateway: database, queue and event bus probed for real, then either the
 * fleet's workers (a gateway alone) or, with `local`, the sandbox backends of the worker beside
 * it in this process, which is then the one that matters rather than a fleet count.
 */
export async function healthReport(
  runtime: ProbedControlPlane,
  options: { timeoutMs: number; local?: LocalSandboxes | undefined },
): Promise<HealthReport> {
  const { local } = options;
  const components = await probeRuntime(runtime, {
    timeoutMs: options.timeoutMs,
    workers: local === undefined,
  });
  if (!local) return { status: overallStatus(components), version: AETHERIUM_VERSION, components };
  for (const b of local.status) {
    components[`backend.${b.backend}`] = { status: b.ready ? "ok" : "down", message: b.detail };
  }
  components.sandboxes = local.ready
    ? { status: "ok", message: `on ${local.backends.join(", ")}` }
    : { status: "down", message: "no sandbox backend ready" };
  // Backends this host lacks are listed for information; what matters is that state, queue and
  // at least one sandbox backend work.
  const ok = [...REQUIRED_COMPONENTS, "sandboxes"].every((c) => components[c]?.status === "ok");
  return { status: ok ? "ok" : "degraded", version: AETHERIUM_VERSION, components };
}

async function probeWorkers(
  runtime: ProbedControlPlane,
  timeoutMs: number,
): Promise<ComponentHealth> {
  try {
    const workers = await withTimeout(runtime.workers.list(), timeoutMs);
    const healthy = workers.filter((w) => w.healthy).length;
    return {
      status: healthy > 0 ? "ok" : "degraded",
      message: `${healthy} of ${workers.length} workers healthy`,
    };
  } catch (err) {
    return { status: "down", message: `cannot list workers: ${describe(err)}` };
  }
}

function ok(message: string, latencyMs?: number): ComponentHealth {
  return { status: "ok", message, ...(latencyMs === undefined ? {} : { latencyMs }) };
}

async function probe(
  call: () => Promise<unknown>,
  what: string,
  timeoutMs: number,
): Promise<ComponentHealth> {
  const started = Date.now();
  try {
    await withTimeout(call(), timeoutMs);
    return ok(what, Date.now() - started);
  } catch (err) {
    return { status: "down", message: describe(err) };
  }
}

class ProbeTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** Settles with `promise`, or rejects after `ms`; the timer never outlives the answer. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeoutError(ms)), ms);
  });
  // A late rejection of the abandoned call must not surface as unhandled.
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The error's own message (the driver's, which says what failed), credentials in URLs hidden. */
function describe(err: unknown): string {
  const base =
    err instanceof DependencyUnavailableError && err.cause instanceof Error
      ? `${err.message}: ${err.cause.message}`
      : err instanceof Error
        ? err.message || err.name
        : String(err);
  return base.replace(/\/\/[^/@\s]*@/g, "//***@");
}
