import type { Logger } from "@aetherium/common";
import type { AetheriumClient } from "@aetherium/sdk";
import type { ClusterStats, Worker } from "@aetherium/types";
import { desiredWorkers } from "../autoscaling/desired-workers.js";
import type { EventInput, KubeApi } from "../kubernetes/kube-api.js";
import type { ManagerMetrics } from "../observability/manager-metrics.js";
import { DRAIN_ANNOTATION, type PoolMember, type WorkerPool } from "./worker-pool.js";

/** The scaling policy's bounds. */
export interface ScalerOptions {
  readonly minWorkers: number;
  readonly maxWorkers: number;
  /** Sandboxes one worker holds; absent: the mean `capacity.maxVms` the workers report. */
  readonly sandboxesPerWorker?: number;
  readonly headroom?: number;
  /** Namespace events are recorded in. */
  readonly namespace: string;
}

/** What one reconcile round did, for logs, tests and the caller. */
export type ScalerAction =
  | { readonly kind: "hold"; readonly desired: number; readonly reason: string }
  | {
      readonly kind: "scale-up";
      readonly from: number;
      readonly to: number;
      readonly reason: string;
    }
  | { readonly kind: "drain"; readonly worker: string; readonly reason: string }
  | { readonly kind: "wait-drain"; readonly worker: string; readonly sandboxes: number }
  | { readonly kind: "remove"; readonly worker: string; readonly from: number; readonly to: number }
  | { readonly kind: "cancel-drain"; readonly worker: string; readonly reason: string };

const FALLBACK_PER_WORKER = 10;

/**
 * Scales worker pods from Aetherium's own view of the fleet. Each round reads the queue depth and
 * the workers' load from the gateway, asks {@link desiredWorkers}, and acts once: up at once;
 * down one worker at a time, and only through the API's drain — the worker chosen (fewest
 * sandboxes) is drained, and its pod is removed in a later round once it holds none. While a
 * drained worker waits to empty, no other goes; if demand comes back first, it is activated again.
 */
export class WorkerScaler {
  readonly #api: KubeApi;
  readonly #client: AetheriumClient;
  readonly #pool: WorkerPool;
  readonly #o: ScalerOptions;
  readonly #logger: Logger;
  readonly #metrics: ManagerMetrics;

  constructor(deps: {
    api: KubeApi;
    client: AetheriumClient;
    pool: WorkerPool;
    options: ScalerOptions;
    logger: Logger;
    metrics: ManagerMetrics;
  }) {
    this.#api = deps.api;
    this.#client = deps.client;
    this.#pool = deps.pool;
    this.#o = deps.options;
    this.#logger = deps.logger;
    this.#metrics = deps.metrics;
  }

  /** One round: observe, decide, act once. */
  async reconcile(): Promise<ScalerAction> {
    const [stats, workers, members, current] = await Promise.all([
      this.#client.cluster.stats(),
      this.#workers(),
      this.#pool.members(),
      this.#pool.wanted(),
    ]);
    const byPod = new Map(workers.map((w) => [w.id, w]));
    const queueDepth = Object.values(stats.queues).reduce((n, q) => n + q.waiting, 0);
    const running = stats.used.vms;
    const decision = desiredWorkers({
      queueDepth,
      runningSandboxes: running,
      sandboxesPerWorker: this.#o.sandboxesPerWorker ?? perWorker(stats, workers),
      currentWorkers: current,
      minWorkers: this.#o.minWorkers,
      maxWorkers: this.#o.maxWorkers,
      ...(this.#o.headroom !== undefined ? { headroom: this.#o.headroom } : {}),
    });
    const draining = members.filter((m) => m.annotations[DRAIN_ANNOTATION]);
    this.#metrics.set("aetherium_manager_workers_desired", decision.desired);
    this.#metrics.set("aetherium_manager_workers_current", current);
    this.#metrics.set("aetherium_manager_workers_draining", draining.length);
    this.#metrics.set("aetherium_manager_queue_depth", queueDepth);
    this.#metrics.set("aetherium_manager_sandboxes_running", running);

    // A drain in progress is finished (or called off) before anything else happens.
    const pending = draining[0];
    if (pending) {
      const worker = byPod.get(pending.pod);
      if (decision.desired >= current) {
        if (worker?.status === "draining") await this.#client.workers.activate(worker.id);
        await this.#pool.markDraining(pending, false);
        const reason = `demand is back (${decision.reason}); worker ${pending.pod} takes sandboxes again`;
        await this.#event("Normal", "DrainCancelled", reason);
        return { kind: "cancel-drain", worker: pending.pod, reason };
      }
      const held = worker && worker.status !== "offline" ? worker.used.vms : 0;
      if (held > 0) return { kind: "wait-drain", worker: pending.pod, sandboxes: held };
      await this.#pool.remove(pending);
      this.#metrics.inc("aetherium_manager_scale_events_total", { direction: "down" });
      await this.#event(
        "Normal",
        "ScaledDown",
        `removed drained worker ${pending.pod}: ${current} -> ${current - 1} workers (${decision.reason})`,
      );
      return { kind: "remove", worker: pending.pod, from: current, to: current - 1 };
    }

    if (decision.desired > current) {
      const to = await this.#pool.grow(decision.desired);
      if (to <= current) {
        const reason = `wanted ${decision.desired} workers but no more can be placed (${decision.reason})`;
        await this.#event("Warning", "ScaleUpBlocked", reason);
        return { kind: "hold", desired: decision.desired, reason };
      }
      this.#metrics.inc("aetherium_manager_scale_events_total", { direction: "up" });
      await this.#event("Normal", "ScaledUp", `${current} -> ${to} workers: ${decision.reason}`);
      return { kind: "scale-up", from: current, to, reason: decision.reason };
    }

    if (decision.desired < current && members.length > 0) {
      const victim = pickVictim(members, byPod);
      const worker = byPod.get(victim.pod);
      // Drain first even when it looks empty: a sandbox may land between this look and removal.
      if (worker && worker.status !== "offline") {
        if (worker.status !== "draining") await this.#client.workers.drain(worker.id);
      }
      await this.#pool.markDraining(victim, true);
      const reason = `${decision.reason}; draining ${victim.pod} (${worker?.used.vms ?? 0} sandboxes) before removal`;
      await this.#event("Normal", "Draining", reason);
      return { kind: "drain", worker: victim.pod, reason };
    }
    return { kind: "hold", desired: decision.desired, reason: decision.reason };
  }

  async #workers(): Promise<Worker[]> {
    const out: Worker[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const res = await this.#client.workers.list({ limit: 100, ...(cursor ? { cursor } : {}) });
      out.push(...res.items);
      cursor = res.nextCursor ?? undefined;
      if (!cursor) break;
    }
    return out;
  }

  async #event(type: EventInput["type"], reason: string, message: string) {
    this.#logger.info({ reason }, message);
    try {
      await this.#api.recordEvent(this.#o.namespace, {
        involved: await this.#pool.involved(),
        type,
        reason,
        message,
      });
    } catch (err) {
      // An event is a report, not the action: failing to write one must not undo the round.
      this.#logger.warn({ err, reason }, "could not record event");
    }
  }
}

/** Mean sandboxes per worker the live workers offer, or a fallback when none reports any. */
function perWorker(stats: ClusterStats, workers: readonly Worker[]): number {
  const live = workers.filter((w) => w.status !== "offline" && w.capacity.maxVms > 0);
  if (live.length === 0) return FALLBACK_PER_WORKER;
  return Math.max(1, Math.floor(stats.capacity.vms / live.length) || FALLBACK_PER_WORKER);
}

/** The member whose loss costs least: a pod with no live worker, else the fewest sandboxes. */
function pickVictim(
  members: readonly PoolMember[],
  byPod: ReadonlyMap<string, Worker>,
): PoolMember {
  const load = (m: PoolMember) => {
    const w = byPod.get(m.pod);
    return !w || w.status === "offline" ? -1 : w.used.vms;
  };
  return [...members].sort((a, b) => load(a) - load(b) || a.pod.localeCompare(b.pod))[0]!;
}
