/**
 * What the engine says about a sandbox's container, as the backend contract's
 * {@link SandboxInfo} and {@link SandboxStats}: pure mappings of the engine's answers.
 * @module
 */
import type Docker from "dockerode";
import type { SandboxInfo } from "../backends/sandbox-backend.js";
import { SANDBOX_LABELS } from "./container-spec.js";

/** Resource usage of a running sandbox, from the engine's one-shot stats. */
export interface SandboxStats {
  /** Memory charged to the container's cgroup, page cache excluded. */
  memoryBytes: number;
  memoryLimitBytes: number;
  pids: number;
  /** Total CPU time used, in nanoseconds. */
  cpuNanos: number;
}

type ContainerState = SandboxInfo["state"];

const STATES: readonly ContainerState[] = [
  "created",
  "running",
  "paused",
  "restarting",
  "exited",
  "dead",
  "removing",
];

/** The engine's container status as a contract state; anything unknown is `dead`. */
export function asState(value: string | undefined): ContainerState {
  return STATES.find((s) => s === value) ?? "dead";
}

/** A container inspect answer as a {@link SandboxInfo} (`sandboxId` when it has no label). */
export function sandboxInfoOfInspect(
  sandboxId: string,
  info: Docker.ContainerInspectInfo,
): SandboxInfo {
  const labels = info.Config.Labels ?? {};
  const started = info.State.StartedAt;
  return {
    sandboxId: labels[SANDBOX_LABELS.sandboxId] ?? sandboxId,
    workerId: labels[SANDBOX_LABELS.workerId],
    backend: "docker",
    backendId: info.Id,
    state: asState(info.State.Status),
    exitCode: info.State.Status === "exited" ? info.State.ExitCode : undefined,
    oomKilled: info.State.OOMKilled,
    image: info.Config.Image,
    labels,
    createdAt: new Date(info.Created),
    // The engine reports a never-started container as started at year 1.
    startedAt: started && !started.startsWith("0001-") ? new Date(started) : undefined,
  };
}

/** One entry of a container listing as a {@link SandboxInfo} (no OOM or start time: inspect has them). */
export function sandboxInfoOfListing(c: Docker.ContainerInfo): SandboxInfo {
  const labels = c.Labels ?? {};
  const exit = /^Exited \((\d+)\)/.exec(c.Status)?.[1];
  return {
    sandboxId: labels[SANDBOX_LABELS.sandboxId] ?? "",
    workerId: labels[SANDBOX_LABELS.workerId],
    backend: "docker" as const,
    backendId: c.Id,
    state: asState(c.State),
    exitCode: exit === undefined ? undefined : Number(exit),
    // Not in the list answer; inspect() has it.
    oomKilled: false,
    image: c.Image,
    labels,
    createdAt: new Date(c.Created * 1000),
    startedAt: undefined,
  };
}

/** The engine's one-shot stats as {@link SandboxStats}. */
export function sandboxStatsOf(s: Docker.ContainerStats): SandboxStats {
  const mem = s.memory_stats;
  // cgroup v1 reports page cache in `cache`, v2 in `inactive_file`; `docker stats` subtracts it.
  const cache = mem.stats?.total_inactive_file ?? mem.stats?.inactive_file ?? mem.stats?.cache;
  return {
    memoryBytes: Math.max(0, (mem.usage ?? 0) - (cache ?? 0)),
    memoryLimitBytes: mem.limit ?? 0,
    pids: s.pids_stats?.current ?? 0,
    cpuNanos: s.cpu_stats.cpu_usage.total_usage,
  };
}
