/**
 * The Docker sandbox backend: one container per sandbox, talking to the engine's API over its
 * unix socket (dockerode). No registry is involved; the image comes from `buildBaseImage`.
 * @module
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { BadRequestError, type Logger } from "@aetherium/common";
import { AGENT_TOKEN_ENV } from "@aetherium/types";
import Docker from "dockerode";
import { IMAGE_PATHS } from "../image/image-layout.js";
import {
  SANDBOX_LABELS,
  SANDBOX_NETWORK,
  containerCreateOptions,
  containerLabels,
  containerName,
} from "./container-spec.js";
import {
  sandboxInfoOfInspect,
  sandboxInfoOfListing,
  sandboxStatsOf,
  type SandboxStats,
} from "./container-info.js";
import { processGroupPss } from "./process-memory.js";
import { ensureSandboxBridge } from "./sandbox-bridge.js";
import {
  SandboxConflictError,
  engineStatus,
  mapDockerError,
  type DockerErrorContext,
} from "./docker-errors.js";
import { DockerEgress, EGRESS_ALLOW_LABEL, type EgressAttachment } from "./docker-egress.js";
import { watchDockerEvents } from "./docker-events.js";
import { ensureBoundedRunDir, isUnboundedRunDir, removeRunDir } from "./run-dir.js";
import type {
  SandboxBackend,
  SandboxEvent,
  SandboxEventWatch,
  SandboxInfo,
  SandboxSpec,
} from "../backends/sandbox-backend.js";
import { DEFAULT_BASE_IMAGE } from "@aetherium/core";

const SANDBOX_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Options for {@link DockerBackend}. */
export interface DockerBackendOptions {
  /** Engine socket; default `/var/run/docker.sock`. */
  socketPath?: string;
  /** A ready client (tests); default one on `socketPath`. */
  docker?: Docker;
  /**
   * Host directory holding one sub-directory per sandbox, bind-mounted at `/run/aetherium`
   * inside it for the agent socket. Default `/run/aetherium/sandboxes`. Each sub-directory is a
   * tmpfs of a few KiB that the backend mounts (so the worker must run as root): the guest can
   * write there, and must not fill the host's disk doing so. Keep it short: a unix socket path
   * has at most 107 bytes.
   */
  socketRoot?: string;
  /** Image when a spec names none; default `aetherium/base:<version>`. */
  defaultImage?: string;
  /** Pids limit when a spec names none; default 1024. */
  defaultPidsLimit?: number;
  /** Bridge network for sandboxes with egress; default {@link SANDBOX_NETWORK}. */
  network?: string;
  /**
   * Internal bridge for sandboxes with an egress allow-list; default `aetherium-eg0`. At most 15
   * characters: it also names the host interface.
   */
  egressNetwork?: string;
  /** Port of the egress proxy on that bridge's host address; default 3128. */
  egressProxyPort?: number;
  /** How the egress proxy resolves allowed names; default the host's resolver. */
  egressLookup?: (host: string) => Promise<string[]>;
  logger?: Logger;
}

function validId(sandboxId: string): string {
  if (!SANDBOX_ID_PATTERN.test(sandboxId)) {
    // It becomes a container name and a host path: reject anything that is not a plain id.
    throw new BadRequestError(`invalid sandbox id ${JSON.stringify(sandboxId)}`);
  }
  return sandboxId;
}

/** The engine's refusal of `--storage-opt size` on storage without quotas. */
function isStorageOptUnsupported(err: unknown): boolean {
  const cause = (err as { cause?: unknown }).cause;
  const text = `${(err as Error).message} ${cause instanceof Error ? cause.message : ""}`;
  return /storage-opt is (supported only|not supported)|pquota/i.test(text);
}

/**
 * Docker implementation of {@link SandboxBackend}. Every container is hardened the same way (see
 * `containerCreateOptions` in `container-spec.ts`): CPU, memory (no swap) and pids limits; all
 * capabilities dropped but a few, which bound setuid `sudo` too; Docker's default seccomp profile;
 * Docker's init as PID 1; no Docker socket;
 * either a dedicated bridge without inter-container traffic, an internal bridge whose only way
 * out is the allow-list proxy, or no network at all.
 */
export class DockerBackend implements SandboxBackend {
  /** {@inheritDoc SandboxBackend.kind} */
  readonly kind = "docker" as const;
  /** The client, for callers that need the raw API (tests, diagnostics). */
  readonly docker: Docker;
  private readonly socketPath: string;
  private readonly socketRoot: string;
  private readonly defaultImage: string;
  private readonly defaultPidsLimit: number;
  private readonly network: string;
  private networkReady: Promise<void> | undefined;
  /** Allow-list enforcement: network, firewall and proxy, set up on the first such sandbox. */
  readonly egress: DockerEgress;
  /** Whether the engine's storage enforces `diskMb`: learnt from the first create that asks. */
  #diskLimits: "unknown" | "enforced" | "unsupported" = "unknown";
  readonly #logger: Logger | undefined;
  /** Agent tokens of the sandboxes this process created, to spare an inspect on connect. */
  readonly #tokens = new Map<string, string>();

  /** Builds the backend; nothing is contacted until the first call. */
  constructor(options: DockerBackendOptions = {}) {
    this.socketPath = options.socketPath ?? "/var/run/docker.sock";
    this.docker = options.docker ?? new Docker({ socketPath: this.socketPath });
    this.socketRoot = options.socketRoot ?? "/run/aetherium/sandboxes";
    this.defaultImage = options.defaultImage ?? DEFAULT_BASE_IMAGE;
    this.defaultPidsLimit = options.defaultPidsLimit ?? 1024;
    this.network = options.network ?? SANDBOX_NETWORK;
    this.#logger = options.logger;
    this.egress = new DockerEgress({
      docker: this.docker,
      socketPath: this.socketPath,
      managedLabel: `${SANDBOX_LABELS.managed}=true`,
      sandboxIdLabel: SANDBOX_LABELS.sandboxId,
      stateDir: this.socketRoot,
      sandboxNetworks: [this.network],
      ...(options.egressNetwork === undefined ? {} : { network: options.egressNetwork }),
      ...(options.egressProxyPort === undefined ? {} : { proxyPort: options.egressProxyPort }),
      ...(options.egressLookup === undefined ? {} : { lookup: options.egressLookup }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  }

  /**
   * Whether sandboxes' `diskMb` is enforced: `enforced` (overlay2 on XFS with project quotas, or
   * the btrfs driver), `unsupported` (the engine refused the size option: the limit is not
   * applied), or `unknown` until a probe or a sandbox with a size was created.
   */
  get diskLimits(): "unknown" | "enforced" | "unsupported" {
    return this.#diskLimits;
  }

  /**
   * Finds out whether `diskMb` will be enforced, by creating (never starting) a throwaway
   * container of `image` with a size and removing it again: the engine is the only reliable
   * judge of its storage's quota support. About one create's time; done once at worker start.
   */
  async probeDiskLimits(image: string = this.defaultImage): Promise<"enforced" | "unsupported"> {
    const name = `aetherium-disk-probe-${process.pid}-${Date.now().toString(36)}`;
    try {
      const c = await this.docker.createContainer({
        name,
        Image: image,
        Labels: { [SANDBOX_LABELS.managed]: "probe" },
        HostConfig: { NetworkMode: "none", StorageOpt: { size: "512M" } },
      });
      await c.remove({ force: true }).catch(() => {});
      this.#diskLimits = "enforced";
    } catch (err) {
      if (!isStorageOptUnsupported(err))
        throw mapDockerError(err, { operation: "probe disk limits", image });
      this.#diskLimits = "unsupported";
    }
    return this.#diskLimits;
  }

  /** Stops this process's egress proxy; sandboxes and networks stay. */
  async close(): Promise<void> {
    await this.egress.close();
  }

  private async call<T>(context: DockerErrorContext, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapDockerError(err, { socketPath: this.socketPath, ...context });
    }
  }

  /** Host directory bind-mounted at `/run/aetherium` in the sandbox. */
  hostRunDir(sandboxId: string): string {
    return path.join(this.socketRoot, validId(sandboxId));
  }

  /** {@inheritDoc SandboxBackend.agentSocketPath} */
  agentSocketPath(sandboxId: string): string {
    return path.join(this.hostRunDir(sandboxId), path.basename(IMAGE_PATHS.agentSocket));
  }

  /**
   * {@inheritDoc SandboxBackend.agentToken}
   * Kept in the container's environment (the agent reads it from there), so a restarted worker
   * reads it back from the engine; the guest cannot change what the engine recorded.
   */
  async agentToken(sandboxId: string): Promise<string | undefined> {
    const known = this.#tokens.get(validId(sandboxId));
    if (known !== undefined) return known;
    const info = await this.call({ operation: "inspect container", sandboxId }, () =>
      this.docker.getContainer(containerName(sandboxId)).inspect(),
    );
    const prefix = `${AGENT_TOKEN_ENV}=`;
    const token = (info.Config.Env ?? [])
      .findLast((e) => e.startsWith(prefix))
      ?.slice(prefix.length);
    if (token !== undefined) this.#tokens.set(sandboxId, token);
    return token;
  }

  /**
   * Creates the sandbox bridge once per process if the engine lacks it, and shuts the host to it
   * (see `isolateBridgeFromHost`): sandboxes reach the outside world, never the host's own
   * services. Idempotent; the worker calls it at start and before each allow-all create. Fails,
   * and no allow-all sandbox is created, when the firewall rules cannot be installed.
   */
  ensureNetwork(): Promise<void> {
    this.networkReady ??= ensureSandboxBridge(this.docker, this.network).catch((err: unknown) => {
      this.networkReady = undefined; // let the next create try again
      throw err;
    });
    return this.networkReady;
  }

  /** {@inheritDoc SandboxBackend.create} */
  async create(spec: SandboxSpec): Promise<SandboxInfo> {
    const sandboxId = validId(spec.sandboxId);
    const image = spec.image ?? this.defaultImage;
    const egress = spec.egress ?? "allow-all";
    let attachment: EgressAttachment | undefined;
    if (typeof egress === "object") {
      attachment = await this.egress.attach(egress.allow).catch((err: unknown) => {
        // Without its firewall and proxy an allow-list would be a promise we do not keep.
        throw new BadRequestError(
          `egress allow-lists cannot be enforced on this worker: ${(err as Error).message}`,
        );
      });
    }
    if (egress === "allow-all") await this.ensureNetwork();

    const runDir = this.hostRunDir(sandboxId);
    // 0700 and owned by root: only the worker (root) and the sandbox's root reach the socket.
    await mkdir(this.socketRoot, { recursive: true, mode: 0o711 });
    const made = await mkdir(runDir, { mode: 0o700 }).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === "EEXIST") return false;
        throw err;
      },
    );
    // The guest writes into this directory (its agent binds the socket there): bound it. Mounting
    // runs a program, so it overlaps the engine's create instead of adding to every create.
    const bounding = ensureBoundedRunDir(runDir).then(
      () => undefined,
      (err: unknown) => ({ err }),
    );
    // Only this container's agent gets it; the engine keeps it for the worker's next connect.
    const token = randomBytes(32).toString("base64url");
    const options = (): Docker.ContainerCreateOptions =>
      containerCreateOptions(spec, {
        image,
        agentToken: token,
        runDir,
        network: this.network,
        egressNetwork: this.egress.network,
        defaultPidsLimit: this.defaultPidsLimit,
        diskLimit: this.#diskLimits !== "unsupported",
        ...(attachment ? { egress: attachment } : {}),
      });
    const createContainer = (create: Docker.ContainerCreateOptions) =>
      this.call({ operation: "create container", image }, () =>
        this.docker.createContainer(create),
      );
    const first = options();
    try {
      let container: Docker.Container;
      try {
        container = await createContainer(first);
        if (first.HostConfig?.StorageOpt) this.#diskLimits = "enforced";
      } catch (err) {
        // Sizes need overlay2 on XFS with project quotas, or btrfs, under the data root.
        // Elsewhere say so once, loudly, and create the sandbox without the limit rather than
        // not at all.
        if (first.HostConfig?.StorageOpt === undefined || !isStorageOptUnsupported(err)) throw err;
        this.#diskLimits = "unsupported";
        this.#logger?.warn(
          { err: (err as Error).message },
          "disk limits (diskMb) are not enforced: the engine's storage has no quota support " +
            "(overlay2 needs XFS mounted with pquota, or use the btrfs driver; scripts/ensure-docker.sh sets one up)",
        );
        container = await createContainer(options());
      }
      const unbounded = await bounding;
      if (unbounded !== undefined) {
        // Never start a sandbox whose run directory is the host's disk.
        await container.remove({ force: true }).catch(() => undefined);
        throw unbounded.err;
      }
      this.#tokens.set(sandboxId, token);
      // What the engine was just told, not read back: an inspect here was one more engine round
      // trip on every create (and so in every sandbox's time to interactive) to learn nothing new.
      return {
        sandboxId,
        workerId: spec.workerId,
        backend: "docker",
        backendId: container.id,
        state: "created",
        exitCode: undefined,
        oomKilled: false,
        image,
        labels: containerLabels(spec, attachment?.labels),
        createdAt: new Date(),
        startedAt: undefined,
      };
    } catch (err) {
      await bounding; // settled before the directory goes
      // A name conflict means the directory belongs to the existing sandbox: leave it.
      if (made && !(err instanceof SandboxConflictError)) await removeRunDir(runDir);
      throw err;
    }
  }

  /** {@inheritDoc SandboxBackend.start} */
  async start(sandboxId: string): Promise<void> {
    const container = this.docker.getContainer(containerName(validId(sandboxId)));
    const runDir = this.hostRunDir(sandboxId);
    // A host reboot empties /run: bring the bounded run directory back before the bind needs it.
    // A sandbox from before bounded run directories that still runs keeps its own until it stops.
    const legacyRunning =
      (await isUnboundedRunDir(runDir)) &&
      (await this.inspect(sandboxId).then(
        (i) => i.state === "running",
        () => false,
      ));
    if (!legacyRunning) await ensureBoundedRunDir(runDir);
    await this.call({ operation: "start container", sandboxId }, async () => {
      try {
        await container.start();
      } catch (err) {
        if (engineStatus(err) === 304) return; // already running
        // No such sandbox: do not leave a run directory behind for it.
        if (engineStatus(err) === 404) await removeRunDir(runDir);
        throw err;
      }
    });
  }

  /** {@inheritDoc SandboxBackend.stop} */
  async stop(sandboxId: string, options: { timeoutSec?: number } = {}): Promise<void> {
    const container = this.docker.getContainer(containerName(validId(sandboxId)));
    await this.call({ operation: "stop container", sandboxId }, async () => {
      try {
        await container.stop({ t: options.timeoutSec ?? 10 });
      } catch (err) {
        if (engineStatus(err) !== 304) throw err; // 304: already stopped
      }
    });
  }

  /**
   * {@inheritDoc SandboxBackend.setPaused}
   * The cgroup freezer: memory stays allocated (Docker cannot checkpoint without CRIU).
   */
  async setPaused(sandboxId: string, paused: boolean): Promise<void> {
    const container = this.docker.getContainer(containerName(validId(sandboxId)));
    const operation = paused ? "pause container" : "unpause container";
    await this.call({ operation, sandboxId }, async () => {
      const info = await container.inspect();
      if (info.State.Paused === paused) return;
      await (paused ? container.pause() : container.unpause());
    });
  }

  /** {@inheritDoc SandboxBackend.remove} */
  async remove(sandboxId: string): Promise<void> {
    const container = this.docker.getContainer(containerName(validId(sandboxId)));
    // Its address on the egress bridge may go to the next sandbox: forget who had it.
    this.egress.forget();
    await this.call({ operation: "remove container", sandboxId }, async () => {
      try {
        await container.remove({ force: true, v: true });
      } catch (err) {
        const status = engineStatus(err);
        if (status === 404) return; // already gone: remove is idempotent
        // 409 "removal already in progress": someone else is removing it; wait for them.
        if (status !== 409) throw err;
        for (let i = 0; i < 100; i++) {
          try {
            await container.inspect();
          } catch (inner) {
            if (engineStatus(inner) === 404) return;
            throw inner;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        throw err;
      }
    });
    this.#tokens.delete(sandboxId);
    await removeRunDir(this.hostRunDir(sandboxId));
  }

  /** {@inheritDoc SandboxBackend.inspect} */
  inspect(sandboxId: string): Promise<SandboxInfo> {
    return this.inspectContainer(validId(sandboxId), containerName(sandboxId));
  }

  private async inspectContainer(sandboxId: string, ref: string): Promise<SandboxInfo> {
    const info = await this.call({ operation: "inspect container", sandboxId }, () =>
      this.docker.getContainer(ref).inspect(),
    );
    return sandboxInfoOfInspect(sandboxId, info);
  }

  /** {@inheritDoc SandboxBackend.list} */
  list(filter: { workerId?: string } = {}): Promise<SandboxInfo[]> {
    return this.listManaged(filter);
  }

  /** {@inheritDoc SandboxBackend.watch} */
  watch(
    filter: { readonly workerId: string },
    onEvent: (event: SandboxEvent) => void,
    onResync?: () => void,
  ): SandboxEventWatch {
    return watchDockerEvents(this.docker, {
      labels: [`${SANDBOX_LABELS.managed}=true`, `${SANDBOX_LABELS.workerId}=${filter.workerId}`],
      sandboxLabel: SANDBOX_LABELS.sandboxId,
      onEvent,
      ...(onResync ? { onResync } : {}),
      logger: this.#logger,
    });
  }

  /** Every container labelled `aetherium.managed=true`, optionally of one worker or extra label. */
  async listManaged(filter: { workerId?: string; label?: string } = {}): Promise<SandboxInfo[]> {
    const label = [`${SANDBOX_LABELS.managed}=true`];
    if (filter.workerId !== undefined) label.push(`${SANDBOX_LABELS.workerId}=${filter.workerId}`);
    if (filter.label !== undefined) label.push(filter.label);
    const containers = await this.call({ operation: "list containers" }, () =>
      this.docker.listContainers({ all: true, filters: { label } }),
    );
    // A worker that restarts (reconcile lists first) finds allow-list sandboxes that need the
    // proxy and firewall before any new one is created: bring them up now, not on next create.
    if (containers.some((c) => c.Labels?.[EGRESS_ALLOW_LABEL] !== undefined)) {
      this.egress
        .ready()
        .catch((err: unknown) =>
          this.#logger?.warn({ err }, "egress proxy for existing allow-list sandboxes failed"),
        );
    }
    return containers.map(sandboxInfoOfListing);
  }

  /** One-shot resource usage of a running sandbox. */
  async stats(sandboxId: string): Promise<SandboxStats> {
    const container = this.docker.getContainer(containerName(validId(sandboxId)));
    const s = await this.call({ operation: "container stats", sandboxId }, () =>
      container.stats({ stream: false }),
    );
    return sandboxStatsOf(s);
  }

  /**
   * Proportional set size of every process in the sandbox, summed from
   * `/proc/<pid>/smaps_rollup`: shared pages (Node's binary, libc) count once per sharer, which
   * is the honest per-sandbox figure for packing many sandboxes on a host. Linux only; needs
   * root. Returns undefined when the sandbox is not running.
   */
  async memoryPss(sandboxId: string): Promise<number | undefined> {
    const info = await this.call({ operation: "inspect container", sandboxId }, () =>
      this.docker.getContainer(containerName(validId(sandboxId))).inspect(),
    );
    const pid = info.State.Pid;
    if (!info.State.Running || pid <= 0) return undefined;
    return processGroupPss(pid);
  }
}
