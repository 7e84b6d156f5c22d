import type { EventBus, Logger } from "@aetherium/common";
import { isServableBy, type EgressPolicy, type NetworkPolicy } from "@aetherium/types";
import { AGENT_PATH, RetryableError } from "@aetherium/core";
import type { Repositories, VmRow } from "@aetherium/core";
import { isRetryableDockerError, SandboxConflictError } from "../docker/docker-errors.js";
import type { SandboxBackend } from "../backends/sandbox-backend.js";
import { claimForCreate } from "./admission.js";
import type { AgentConnections } from "./agent-connections.js";
import type { SandboxRecords } from "./sandbox-records.js";
import { installSandboxTools } from "./sandbox-tools.js";

/** What a {@link SandboxLifecycle} needs. */
export interface SandboxLifecycleDeps {
  readonly backend: SandboxBackend;
  readonly repos: Repositories;
  readonly logger: Logger;
  readonly records: SandboxRecords;
  readonly agents: AgentConnections;
  /** How long a new or restarted sandbox's agent may take to answer. */
  readonly agentReadyTimeoutMs: number;
  /** Where `vm.tool` progress is published. */
  readonly bus: EventBus;
  /** How long one of a new sandbox's tools may take to install; the installer's default when absent. */
  readonly toolTimeoutMs?: number;
}

/**
 * Creates, starts, stops and deletes a worker's sandboxes. A record turns `running` only once
 * the guest agent answers, and a failure records why.
 */
export class SandboxLifecycle {
  constructor(private readonly deps: SandboxLifecycleDeps) {}

  /**
   * Builds and boots the sandbox recorded as `sandboxId` (status pending), claiming it for this
   * worker, and installs its tools once its agent answers: it turns `running` only then. A tool
   * that fails makes it `failed`, its error naming the tool. A half-made sandbox from an earlier
   * attempt is removed first, so the job may be retried.
   */
  async create(sandboxId: string, signal?: AbortSignal): Promise<VmRow> {
    const { backend, repos, records, agents } = this.deps;
    const workerId = records.workerId;
    const row = await repos.vms.get(sandboxId);
    if (!row) throw new Error(`sandbox ${sandboxId} has no record`);
    records.sameBackend(row);
    if (isServableBy(row, workerId)) return row;
    const claimed = await this.#claim(row);
    if (!claimed) throw new Error(`sandbox ${sandboxId} is ${row.status}; not creating it`);
    try {
      const env = repos.vms.openEnv(claimed);
      const tools = claimed.tools;
      const spec = {
        sandboxId,
        workerId,
        ...(claimed.image ? { image: claimed.image } : {}),
        vcpus: claimed.vcpus,
        memoryMb: claimed.memoryMb,
        ...(claimed.diskMb ? { diskMb: claimed.diskMb } : {}),
        egress: egressOf(claimed.network),
        // Tools are the sandbox user's mise tools: its shims go first on PATH so every later
        // command finds them (no login shell would add them), unless the sandbox sets its own PATH.
        env: tools.length > 0 && env.PATH === undefined ? { ...env, PATH: AGENT_PATH } : env,
        labels: { "aetherium.vm-name": claimed.name },
      };
      try {
        await backend.create(spec);
      } catch (err) {
        // A leftover of an interrupted attempt holds the name: clear it and build afresh. Only
        // on this path, so a first attempt pays no extra engine call.
        if (!(err instanceof SandboxConflictError)) throw err;
        await backend.remove(sandboxId);
        await backend.create(spec);
      }
      await backend.start(sandboxId);
      signal?.throwIfAborted();
      const client = await agents.dial(sandboxId, this.deps.agentReadyTimeoutMs);
      agents.keep(sandboxId, client);
      if (tools.length > 0) {
        await installSandboxTools(sandboxId, client, tools, {
          bus: this.deps.bus,
          env,
          ...(this.deps.toolTimeoutMs !== undefined
            ? { timeoutMsPerTool: this.deps.toolTimeoutMs }
            : {}),
          ...(signal ? { signal } : {}),
        });
      }
      const running = await records.move(claimed, ["creating"], "running");
      if (!running) throw new Error(`sandbox ${sandboxId} changed state while it was created`);
      return running;
    } catch (err) {
      const message = (err as Error).message;
      const current = await repos.vms.get(sandboxId);
      if (current && isServableBy(current, workerId)) {
        // The sandbox is up and recorded so; only what came after (announcing it) failed.
        // Removing its container now would leave a running record with nothing behind it.
        this.deps.logger.warn({ err, sandboxId }, "sandbox is running, but announcing it failed");
        return current;
      }
      await agents.drop(sandboxId);
      await backend.remove(sandboxId).catch(() => undefined);
      if (current) await records.move(current, ["creating"], "failed", { error: message });
      // The engine being briefly unreachable is worth another attempt; a bad image is not.
      throw isRetryableDockerError(err) ? new RetryableError(message, { cause: err }) : err;
    }
  }

  /**
   * Reserves this worker's capacity for the sandbox and claims it, atomically: concurrent creates
   * never overshoot however late the heartbeats are. With no room here the job goes back to its
   * queue (for this or another worker) and the sandbox says why it waits.
   */
  async #claim(row: VmRow): Promise<VmRow | undefined> {
    const { repos, records } = this.deps;
    const claimed = await claimForCreate(repos, row, records.workerId);
    if (claimed) await records.announce(claimed, "creating", row.status);
    return claimed;
  }

  /** Stops a running sandbox; its files stay until it is deleted. */
  async stop(sandboxId: string, force = false): Promise<VmRow> {
    const { records } = this.deps;
    const row = await records.own(sandboxId);
    if (row.status === "stopped") return row;
    const stopping = await records.move(row, ["running", "creating", "stopping"], "stopping");
    if (!stopping) throw new Error(`sandbox ${sandboxId} is ${row.status}; cannot stop it`);
    await this.deps.agents.drop(sandboxId);
    await this.deps.backend.stop(sandboxId, { timeoutSec: force ? 0 : 10 });
    return (await records.move(stopping, ["stopping"], "stopped"))!;
  }

  /**
   * Freezes a running sandbox in place (its processes keep their memory and get no CPU). A
   * paused sandbox does not expire: its clock starts again at {@link resume}.
   */
  async pause(sandboxId: string): Promise<VmRow> {
    const { records, backend } = this.deps;
    const row = await records.own(sandboxId);
    if (row.status === "paused") return row;
    if (row.status !== "running")
      throw new Error(`sandbox ${sandboxId} is ${row.status}; cannot pause it`);
    if (!backend.setPaused) throw new Error(`the ${backend.kind} backend cannot pause sandboxes`);
    await backend.setPaused(sandboxId, true);
    const paused = await records.move(row, ["running"], "paused", { expiresAt: null });
    if (paused) return paused;
    // Something else moved it meanwhile (a delete, a loss): leave it as that made it.
    await backend.setPaused(sandboxId, false).catch(() => undefined);
    throw new Error(`sandbox ${sandboxId} changed state while it was paused`);
  }

  /** Thaws a paused sandbox; its processes carry on, and its timeout counts from now. */
  async resume(sandboxId: string): Promise<VmRow> {
    const { records, backend } = this.deps;
    const row = await records.own(sandboxId);
    if (row.status === "running") return row;
    if (row.status !== "paused")
      throw new Error(`sandbox ${sandboxId} is ${row.status}; cannot resume it`);
    if (!backend.setPaused) throw new Error(`the ${backend.kind} backend cannot pause sandboxes`);
    await backend.setPaused(sandboxId, false);
    const expiresAt = row.timeoutSec ? new Date(Date.now() + row.timeoutSec * 1000) : null;
    const running = await records.move(row, ["paused"], "running", { expiresAt });
    if (!running) throw new Error(`sandbox ${sandboxId} changed state while it was resumed`);
    return running;
  }

  /** Starts a stopped sandbox again; running once its agent answers. */
  async start(sandboxId: string): Promise<VmRow> {
    const { records, agents } = this.deps;
    const row = await records.own(sandboxId);
    if (row.status === "running") return row;
    // A start clears why it stopped (a crash, an OOM kill): that is history once it runs again.
    const starting = await records.move(row, ["stopped"], "creating", { error: null });
    if (!starting) throw new Error(`sandbox ${sandboxId} is ${row.status}; cannot start it`);
    try {
      await this.deps.backend.start(sandboxId);
      agents.keep(sandboxId, await agents.dial(sandboxId, this.deps.agentReadyTimeoutMs));
      return (await records.move(starting, ["creating"], "running"))!;
    } catch (err) {
      await records.move(starting, ["creating"], "failed", { error: (err as Error).message });
      throw err;
    }
  }

  /** Removes the sandbox and everything it held; deleting a deleted one is a no-op. */
  async delete(sandboxId: string): Promise<VmRow | undefined> {
    const { records } = this.deps;
    const row = await this.deps.repos.vms.get(sandboxId);
    if (!row || row.status === "deleted") return row;
    const deleting =
      row.status === "deleting" ? row : await records.move(row, [row.status], "deleting");
    await this.deps.agents.drop(sandboxId);
    await this.deps.backend.remove(sandboxId);
    return records.move(deleting ?? row, ["deleting"], "deleted");
  }
}

function egressOf(network: unknown): EgressPolicy {
  const egress = (network as Partial<NetworkPolicy> | null)?.egress;
  return egress ?? "allow-all";
}
