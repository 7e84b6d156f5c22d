/**
 * The contract every sandbox backend implements (Docker, QEMU microVMs and Firecracker microVMs),
 * so the worker provisions a sandbox without knowing what isolates it.
 * @module
 */
import type { Socket } from "node:net";
import type { EgressPolicy, VmBackend } from "@aetherium/types";

/** What a sandbox is created with. Sizes are limits the backend enforces, not hints. */
export interface SandboxSpec {
  /** The sandbox id (an `idSchema` id: letters, digits, `_.-`); names the container/VM. */
  readonly sandboxId: string;
  /** The worker that owns it; recorded on the sandbox so a worker can list what it owns. */
  readonly workerId: string;
  /** Image reference (Docker) or image name (microVMs). Default: the backend's base image. */
  readonly image?: string;
  /** CPU limit in (possibly fractional) cores. */
  readonly vcpus: number;
  /** Memory limit in MiB; no swap beyond it. */
  readonly memoryMb: number;
  /**
   * Size limit of the sandbox's own writable filesystem in MiB. Docker enforces it where its
   * storage can (overlay2 on XFS with project quotas, or btrfs; `scripts/ensure-docker.sh` sets
   * one up); elsewhere the backend says so once and creates the sandbox without it.
   */
  readonly diskMb?: number;
  /** Largest number of processes/threads inside; stops fork bombs. Default 1024. */
  readonly pidsLimit?: number;
  /**
   * Egress policy; `deny-all` means no network interface but loopback, an allow-list a network
   * whose only way out is a proxy that checks each destination.
   */
  readonly egress?: EgressPolicy;
  /** Environment variables for the sandbox's processes. */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra labels/metadata stored with the sandbox. */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Replaces the image's entrypoint (the guest agent). For tests and special images only: a sandbox
   * without its agent cannot run commands through Aetherium.
   */
  readonly command?: readonly string[];
}

/** A sandbox as its backend sees it. */
export interface SandboxInfo {
  readonly sandboxId: string;
  readonly workerId: string | undefined;
  readonly backend: VmBackend;
  /** The backend's own handle (Docker container id, VM pid file…). */
  readonly backendId: string;
  readonly state: "created" | "running" | "paused" | "restarting" | "exited" | "dead" | "removing";
  /** Exit code once exited. */
  readonly exitCode: number | undefined;
  /** True when the kernel's OOM killer ended it. */
  readonly oomKilled: boolean;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly createdAt: Date;
  readonly startedAt: Date | undefined;
}

/** Something that happened to a sandbox in its backend, whoever caused it. */
export interface SandboxEvent {
  readonly sandboxId: string;
  /** `die`: it stopped running; `oom`: the OOM killer hit it; `destroy`: it was removed. */
  readonly action: "die" | "oom" | "destroy";
  /** With `die`: the exit code of its init process. */
  readonly exitCode?: number;
  readonly at: Date;
}

/** A subscription to {@link SandboxEvent}s; close it to stop. */
export interface SandboxEventWatch {
  close(): void;
}

/**
 * Creates, starts, stops and removes sandboxes on one worker. Implementations must be idempotent
 * where the worker retries: `stop` on a stopped sandbox and `remove` on a removed one succeed.
 */
export interface SandboxBackend {
  /** Which backend this is. */
  readonly kind: VmBackend;
  /**
   * How long a started sandbox's agent may take to answer before the start counts as failed;
   * absent: the manager's default (30 s). A VM under emulation boots far slower than a container.
   */
  readonly agentReadyTimeoutMs?: number;
  /** Creates (does not start) the sandbox; fails with a conflict if it already exists. */
  create(spec: SandboxSpec): Promise<SandboxInfo>;
  /** Starts a created or stopped sandbox; a running one is left as is. */
  start(sandboxId: string): Promise<void>;
  /** Stops it, killing whatever still runs after `timeoutSec` (default 10). */
  stop(sandboxId: string, options?: { timeoutSec?: number }): Promise<void>;
  /**
   * Freezes (`paused: true`) or thaws a running sandbox in place: its processes keep their
   * memory and open files but get no CPU while frozen. Idempotent both ways. Backends that
   * cannot freeze leave it out.
   */
  setPaused?(sandboxId: string, paused: boolean): Promise<void>;
  /** Removes it and everything it left on the host; succeeds when it is already gone. */
  remove(sandboxId: string): Promise<void>;
  /** Its current state. Throws a not-found error when it does not exist. */
  inspect(sandboxId: string): Promise<SandboxInfo>;
  /** Every sandbox this backend manages, optionally only those of one worker. */
  list(filter?: { workerId?: string }): Promise<SandboxInfo[]>;
  /** Host path of the unix socket the sandbox's guest agent listens on. */
  agentSocketPath(sandboxId: string): string;
  /**
   * What a client must do on a fresh connection to {@link agentSocketPath} before speaking
   * JSON-RPC, for transports with a preamble (a virtio-serial port's sync line). Absent: nothing.
   */
  readonly agentHandshake?: (socket: Socket, timeoutMs: number) => Promise<void>;
  /**
   * Follows what happens to one worker's sandboxes (deaths, OOM kills, removals), reconnecting
   * by itself; `onResync` runs after each (re)connection, since events in a gap are lost.
   * Backends that cannot watch leave it out and rely on periodic reconciliation.
   */
  watch?(
    filter: { readonly workerId: string },
    onEvent: (event: SandboxEvent) => void,
    onResync?: () => void,
  ): SandboxEventWatch;
  /**
   * The secret the sandbox's agent proves it holds on every connection (`agent.auth`),
   * so the worker never drives whatever else the sandbox made answer on its socket. Generated at
   * create and handed only to that sandbox; undefined for a sandbox created without one.
   */
  agentToken?(sandboxId: string): Promise<string | undefined>;
  /** Releases what the backend holds open (connections, watches); sandboxes keep running. */
  close?(): Promise<void>;
}
