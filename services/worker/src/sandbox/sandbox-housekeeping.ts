import { randomBytes } from "node:crypto";
import { constants as osConstants } from "node:os";
import type { Logger } from "@aetherium/common";
import type { VmStatus } from "@aetherium/types";
import type { Repositories, VmRow } from "@aetherium/core";
import { waitForAgent } from "../agent-client/wait-for-agent.js";
import { SandboxNotFoundError } from "../docker/docker-errors.js";
import type { SandboxBackend, SandboxEvent } from "../backends/sandbox-backend.js";
import type { AgentConnections } from "./agent-connections.js";
import type { SandboxActivity } from "./sandbox-activity.js";
import type { SandboxLifecycle } from "./sandbox-lifecycle.js";
import type { SandboxRecords } from "./sandbox-records.js";

/** What reconcile found and did. */
export interface ReconcileResult {
  /** Containers of ours whose sandbox is deleted, failed, waiting to be placed or on another worker. */
  readonly orphansRemoved: string[];
  /** Sandboxes whose container is gone. */
  readonly markedLost: string[];
  /** Sandboxes whose container had stopped while their record said running. */
  readonly markedStopped: string[];
  /** `lost` sandboxes found alive (running again) or stopped (stopped again). */
  readonly recovered: string[];
  /**
   * Containers with this worker's label that no record of this install names: another install
   * (same worker id, other database) may own them, so they are left alone.
   */
  readonly foreign: string[];
}

/** Options of {@link SandboxHousekeeping.reconcile}. */
export interface ReconcileOptions {
  /**
   * True at start-up (the default), when nothing runs yet: sandboxes caught mid-create, -stop or
   * -delete by a crash are settled too. A periodic pass leaves those to the operation in flight.
   */
  readonly atStartup?: boolean;
}

/** What a {@link SandboxHousekeeping} needs. */
export interface SandboxHousekeepingDeps {
  readonly backend: SandboxBackend;
  readonly repos: Repositories;
  readonly logger: Logger;
  readonly records: SandboxRecords;
  readonly agents: AgentConnections;
  readonly activity: SandboxActivity;
  readonly lifecycle: SandboxLifecycle;
  /** How long a sandbox's agent may take to answer; a revive waits at most this. */
  readonly agentReadyTimeoutMs: number;
}

// Statuses whose record says the sandbox's container exists on its worker.
const HOSTED: readonly VmStatus[] = [
  "creating",
  "running",
  "paused",
  "stopping",
  "stopped",
  "lost",
];
// A container of these is unwanted: nothing will run in it again.
const UNWANTED: readonly VmStatus[] = ["pending", "deleting", "deleted", "failed"];
// How long a `lost` sandbox's agent gets to answer before reconcile leaves it lost.
const REVIVE_AGENT_TIMEOUT_MS = 5000;

/**
 * Keeps a worker's records and its backend in agreement, and its fleet tidy: reconcile passes,
 * the backend's events, expiry, idle stop and the warm pool.
 */
export class SandboxHousekeeping {
  /** Sandboxes the OOM killer hit, until their `die` event is handled. */
  readonly #oomKilled = new Set<string>();
  /** Event handling and reconcile passes, one after another. */
  #queue: Promise<void> = Promise.resolve();
  /** Stops of the watches {@link watch} started. */
  readonly #watches = new Set<() => void>();

  constructor(private readonly deps: SandboxHousekeepingDeps) {}

  /**
   * Makes rows and backend agree, at start-up and periodically. Only containers this install
   * can prove are its own (a record of ours names them) and unwanted (deleted, failed, waiting to
   * be placed, or placed on another worker) are removed; a container no record names is left
   * alone. A `lost` sandbox whose container runs and whose agent answers is `running` again, one
   * whose container stopped is `stopped`; a record whose container is gone becomes `lost`, and a
   * running one whose container exited becomes `stopped` with the reason.
   */
  async reconcile(options: ReconcileOptions = {}): Promise<ReconcileResult> {
    const { backend, repos, records } = this.deps;
    const workerId = records.workerId;
    const atStartup = options.atStartup ?? true;
    // Records first: a sandbox a create makes meanwhile then shows up as a container whose
    // record is read afresh below, never as a record whose container seems missing.
    const rows = await records.listHere();
    const actual = await backend.list({ workerId });
    const result = {
      orphansRemoved: [] as string[],
      markedLost: [] as string[],
      markedStopped: [] as string[],
      recovered: [] as string[],
      foreign: [] as string[],
    };
    const present = new Map(actual.map((s) => [s.sandboxId, s]));
    for (const s of actual) {
      const row = await repos.vms.get(s.sandboxId);
      if (!row) {
        result.foreign.push(s.sandboxId);
        continue;
      }
      if (row.workerId !== workerId || UNWANTED.includes(row.status)) {
        // While the worker runs, a delete in flight removes its own container, and a create
        // placed here again builds over the leftover; at start-up nothing is in flight.
        const inFlight =
          (row.status === "deleting" || row.status === "pending") && row.workerId === workerId;
        if (inFlight && !atStartup) continue;
        await backend.remove(s.sandboxId);
        result.orphansRemoved.push(s.sandboxId);
        continue;
      }
      if (row.status === "lost") {
        if (await this.#revive(row, s)) result.recovered.push(row.id);
      } else if (row.status === "running" && !isUp(s)) {
        // The list does not say whether the OOM killer did it; inspect does.
        const info = await backend.inspect(row.id).catch(() => s);
        if (await this.#markExited(row, info)) result.markedStopped.push(row.id);
      } else if (row.status === "stopping" && atStartup && !isUp(s)) {
        // A stop the crash interrupted after the container halted.
        if (await records.move(row, ["stopping"], "stopped")) result.markedStopped.push(row.id);
      }
    }
    for (const row of rows) {
      if (present.has(row.id) || !HOSTED.includes(row.status) || row.status === "lost") continue;
      // In flight now: the create, stop or delete under way settles it.
      if (!atStartup && !["running", "paused", "stopped"].includes(row.status)) continue;
      if (!atStartup && (await this.#exists(row.id))) continue;
      const lost = await records.move(row, [row.status], "lost", {
        error: atStartup
          ? "its container vanished while the worker was away"
          : "its container was removed outside the platform",
      });
      if (lost) {
        result.markedLost.push(row.id);
        await this.#releaseHost(row.id);
      }
    }
    if (
      result.orphansRemoved.length ||
      result.markedLost.length ||
      result.markedStopped.length ||
      result.recovered.length
    ) {
      this.deps.logger.warn({ ...result, workerId }, "reconciled sandboxes with the backend");
    }
    if (result.foreign.length && atStartup) {
      this.deps.logger.warn(
        { foreign: result.foreign, workerId },
        "containers labelled with this worker id that no record of this install names: left alone",
      );
    }
    return result;
  }

  /**
   * Follows the backend's events so a container killed, OOM-killed or removed behind the
   * platform's back moves its sandbox to a true state at once, and reconciles every
   * `intervalMs` (and after each reconnection of the event stream) in case events were missed.
   * Returns a function that stops both.
   */
  watch(intervalMs = 15_000): () => void {
    const { backend, logger } = this.deps;
    const workerId = this.deps.records.workerId;
    const resync = (): void => {
      this.#serial(() => this.reconcile({ atStartup: false })).catch((err: unknown) =>
        logger.warn({ err, workerId }, "periodic reconcile failed"),
      );
    };
    const events = backend.watch?.(
      { workerId },
      (event) => {
        this.#serial(() => this.#onEvent(event)).catch((err: unknown) =>
          logger.warn({ err, workerId, event }, "handling a sandbox event failed"),
        );
      },
      // The first connection also lands here; a pass then is cheap and catches start-up races.
      resync,
    );
    const timer = setInterval(resync, intervalMs);
    timer.unref();
    const stop = (): void => {
      clearInterval(timer);
      events?.close();
      this.#watches.delete(stop);
    };
    this.#watches.add(stop);
    return stop;
  }

  /** Stops every watch {@link watch} started. */
  stopWatching(): void {
    for (const stop of [...this.#watches]) stop();
  }

  /**
   * Deletes this worker's sandboxes whose `expiresAt` has passed, or pauses those created to
   * pause at their timeout (a paused sandbox has no expiry until it is resumed); returns their ids.
   */
  async expire(now: Date = new Date()): Promise<string[]> {
    const rows = await this.deps.records.listHere();
    const due = rows.filter(
      (r) =>
        r.expiresAt &&
        r.expiresAt <= now &&
        r.status !== "deleting" &&
        // One to pause is left alone while it is not running (being created, stopped…).
        (r.onTimeout !== "pause" || r.status === "running"),
    );
    for (const r of due) {
      const pause = r.onTimeout === "pause";
      await (pause ? this.deps.lifecycle.pause(r.id) : this.deps.lifecycle.delete(r.id)).catch(
        (err: unknown) =>
          this.deps.logger.warn({ err, sandboxId: r.id }, "expiring sandbox failed"),
      );
    }
    return due.map((r) => r.id);
  }

  /**
   * Stops this worker's running sandboxes that have run no command for `idleMs` (since they
   * became ready, when they have run none here), and run none now (an open terminal or a long
   * command keeps its sandbox). Warm-pool sandboxes are never idle-stopped: being ready is their
   * job. Returns the ids stopped.
   */
  async stopIdle(idleMs: number, now: number = Date.now()): Promise<string[]> {
    const { activity } = this.deps;
    const rows = await this.deps.records.listHere();
    const idle = rows.filter((r) => {
      if (r.status !== "running" || (r.metadata as { pool?: string }).pool === "warm") return false;
      if (activity.isBusy(r.id)) return false;
      const last = activity.lastActiveAt(r.id) ?? r.readyAt?.getTime() ?? r.createdAt.getTime();
      return now - last >= idleMs;
    });
    const stopped: string[] = [];
    for (const r of idle) {
      try {
        await this.deps.lifecycle.stop(r.id);
        stopped.push(r.id);
      } catch (err) {
        this.deps.logger.warn({ err, sandboxId: r.id }, "idle stop failed");
      }
    }
    return stopped;
  }

  /**
   * Tops the warm pool up to `size` ready sandboxes of `shape`, one at a time (a boot is heavy;
   * the pool fills in the background while claims drain it). Returns how many it started.
   */
  async refillPool(
    size: number,
    shape: { image: string; vcpus: number; memoryMb: number; diskMb?: number },
  ): Promise<number> {
    const { repos, records, lifecycle } = this.deps;
    let started = 0;
    while ((await repos.vms.countWarm(records.workerId, shape.image, records.kind)) < size) {
      const row = await repos.vms.create({
        name: `warm-${randomBytes(6).toString("hex")}`,
        backend: this.deps.backend.kind,
        image: shape.image,
        vcpus: shape.vcpus,
        memoryMb: shape.memoryMb,
        ...(shape.diskMb ? { diskMb: shape.diskMb } : {}),
        workerId: records.workerId,
        metadata: { pool: "warm" },
      });
      try {
        await lifecycle.create(row.id);
      } catch (err) {
        this.deps.logger.warn({ err, sandboxId: row.id }, "warm-pool sandbox failed to boot");
        await lifecycle.delete(row.id).catch(() => undefined);
        break;
      }
      started++;
    }
    return started;
  }

  /** Runs `fn` after every earlier event and reconcile pass, so they never interleave. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  async #onEvent(event: SandboxEvent): Promise<void> {
    const { records } = this.deps;
    const row = await this.deps.repos.vms.get(event.sandboxId);
    // Only what nobody on the platform asked for: a stop or delete moves the record first
    // (`stopping`, `deleting`), and a create that fails settles its own record.
    if (!row || row.workerId !== records.workerId) return;
    if (event.action === "oom") {
      this.#oomKilled.add(row.id);
      return;
    }
    if (event.action === "die" && row.status === "running") {
      const info = await this.deps.backend.inspect(row.id).catch(() => undefined);
      // A stale event: it was started again since.
      if (info && isUp(info)) return;
      const oom = this.#oomKilled.delete(row.id) || info?.oomKilled === true;
      const code = info?.exitCode ?? event.exitCode;
      await this.#markExited(row, { exitCode: code, oomKilled: oom });
    } else if (
      event.action === "destroy" &&
      (row.status === "running" || row.status === "paused" || row.status === "stopped")
    ) {
      this.#oomKilled.delete(row.id);
      await this.deps.agents.drop(row.id);
      await records.move(row, [row.status], "lost", {
        error: "its container was removed outside the platform",
      });
      await this.#releaseHost(row.id);
    }
  }

  /**
   * What the host still holds for a sandbox whose container is gone (its run directory, a
   * tmpfs mount) serves nothing any more: no container can come back to it. The record stays.
   */
  async #releaseHost(sandboxId: string): Promise<void> {
    await this.deps.backend.remove(sandboxId).catch((err: unknown) => {
      this.deps.logger.warn({ err, sandboxId }, "could not release a lost sandbox's host state");
    });
  }

  /** running → stopping → stopped with why its container ended; the files stay for a start. */
  async #markExited(
    row: VmRow,
    info: { readonly exitCode: number | undefined; readonly oomKilled: boolean },
  ): Promise<VmRow | undefined> {
    const { records } = this.deps;
    const why = info.oomKilled
      ? `its container ran out of memory and was killed (exit code ${info.exitCode ?? 137})`
      : info.exitCode === undefined
        ? "its container stopped outside the platform"
        : `its container exited outside the platform with code ${info.exitCode}${
            info.exitCode > 128 ? ` (${signalName(info.exitCode - 128)})` : ""
          }`;
    await this.deps.agents.drop(row.id);
    const stopping = await records.move(row, ["running"], "stopping", { error: why });
    return stopping && records.move(stopping, ["stopping"], "stopped");
  }

  /** A `lost` sandbox whose container is still here: running if its agent answers, stopped if it stopped. */
  async #revive(row: VmRow, info: { readonly state: string }): Promise<VmRow | undefined> {
    const { records } = this.deps;
    if (!isUp(info)) return records.move(row, ["lost"], "stopped");
    try {
      const client = await waitForAgent(
        this.deps.backend.agentSocketPath(row.id),
        Math.min(this.deps.agentReadyTimeoutMs, REVIVE_AGENT_TIMEOUT_MS),
        this.deps.backend.agentHandshake === undefined
          ? {}
          : { handshake: this.deps.backend.agentHandshake },
      );
      this.deps.agents.keep(row.id, client);
    } catch (err) {
      // Left lost (never removed): its files may still matter to someone.
      this.deps.logger.warn({ err, sandboxId: row.id }, "lost sandbox's agent does not answer");
      return undefined;
    }
    return records.move(row, ["lost"], "running", { error: null });
  }

  async #exists(sandboxId: string): Promise<boolean> {
    try {
      await this.deps.backend.inspect(sandboxId);
      return true;
    } catch (err) {
      if (err instanceof SandboxNotFoundError) return false;
      throw err;
    }
  }
}

/** Whether a container is up (its agent may answer). */
function isUp(info: { readonly state: string }): boolean {
  return info.state === "running" || info.state === "restarting" || info.state === "paused";
}

function signalName(n: number): string {
  const entry = Object.entries(osConstants.signals).find(([, v]) => v === n);
  return entry ? entry[0] : `signal ${n}`;
}
