/**
 * The Firecracker backend: one `firecracker` process per sandbox, configured over its API socket
 * (see `firecracker-api.ts`), booting the same guest image as QEMU (`vm-image/`: the kernel as an
 * uncompressed `vmlinux`, the initramfs, and its own sparse or reflinked copy of the template root
 * filesystem, grown by the sandbox's disk size), a TAP from the VM network and a vsock device.
 * The guest's init finds {@link FIRECRACKER_AGENT_PORT} on its kernel command line and bridges
 * that vsock port to the agent; the agent's token and the sandbox's environment reach it on the
 * read-only config disk (`vm-image/guest-config.ts`), as under QEMU. Each sandbox's state is a
 * directory under `stateDir` (its spec, disk, config disk, sockets, pid, logs), so a restarted
 * worker finds its VMs again.
 * @module
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chown,
  link,
  mkdir,
  readdir,
  readFile,
  rm,
  truncate,
  stat,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { BadRequestError, type Logger } from "@aetherium/common";
import type { SandboxBackend, SandboxInfo, SandboxSpec } from "../backends/sandbox-backend.js";
import { proxyEnvironment } from "../qemu/qemu-backend.js";
import { guestConfigDisk } from "../vm-image/guest-config.js";
import { VSOCK_BOOT_ARG } from "../vm-image/guest-init.js";
import type { NetworkAttachment } from "../vm-network/network-attachment.js";
import type { VmNetwork } from "../vm-network/vm-network.js";
import {
  actionRequest,
  bootArgs,
  configurationRequests,
  FirecrackerApi,
  type FirecrackerVmConfig,
} from "./firecracker-api.js";
import { jailerArgv, jailPaths, type JailerSettings } from "./jailer.js";
import { relayVsock } from "./vsock-connect.js";

const run = promisify(execFile);

/** Guest vsock port the agent listens on. */
export const FIRECRACKER_AGENT_PORT = 1024;

/**
 * Guest CID of every VM: Firecracker's vsock is emulated over the VM's own unix socket, not the
 * host's vhost-vsock, so CIDs need not differ between VMs.
 */
const GUEST_CID = 3;

/** The process limit of a VM's sandbox when its spec names none: the Docker backend's default. */
const DEFAULT_PIDS_LIMIT = 1024;
// Free space added to a VM's root disk when the sandbox names no disk size.
const DEFAULT_EXTRA_DISK_MB = 1024;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Options of {@link FirecrackerBackend}. */
export interface FirecrackerBackendOptions {
  /** The `firecracker` binary. */
  readonly binary: string;
  /** Uncompressed kernel (`vmlinux`) the VMs boot. */
  readonly kernelPath: string;
  /** The initramfs that loads the guest's virtio and vsock modules (the VM image's). */
  readonly initrdPath?: string;
  /** Template root filesystem (ext4); each VM gets its own copy. */
  readonly rootfsPath: string;
  /** Where each sandbox's directory lives. */
  readonly stateDir: string;
  /** The VM network; absent: VMs get no network interface (as `deny-all`). */
  readonly network?: VmNetwork;
  /** Run each VMM under the jailer (see `jailer.ts`); absent: `firecracker` directly. */
  readonly jailer?: JailerSettings;
  /** Longest wait for the API socket after spawning; default 5 s. */
  readonly apiTimeoutMs?: number;
  readonly logger?: Logger;
}

/** What is kept in `<dir>/sandbox.json`. */
interface StoredSandbox {
  readonly spec: SandboxSpec;
  readonly createdAt: string;
  readonly agentToken: string;
  readonly network?: NetworkAttachment;
}

const VALID_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
// How old a directory without sandbox.json must be before list() takes it for a dead create.
const HALF_MADE_GRACE_MS = 60_000;

function validId(sandboxId: string): string {
  if (!VALID_ID.test(sandboxId)) {
    throw new Error(`invalid sandbox id ${JSON.stringify(sandboxId)}`);
  }
  return sandboxId;
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/**
 * The kernel command line of a VM: {@link bootArgs}, the network's `ip=` argument (with the
 * resolver, as QEMU's guests get it) and the vsock port the guest's init bridges to its agent.
 */
export function firecrackerBootArgs(network: NetworkAttachment | undefined): string {
  const ip =
    network === undefined
      ? undefined
      : `${network.kernelIpArg}${network.dns === undefined ? "" : `:${network.dns}`}`;
  return bootArgs(ip, [`${VSOCK_BOOT_ARG}=${FIRECRACKER_AGENT_PORT}`]);
}

/** The config disk of a VM (see `guest-config.ts`): written at each start, mode 0600. */
function configDisk(sandboxId: string, stored: StoredSandbox): Buffer {
  const proxyUrl = stored.network?.proxyUrl;
  return guestConfigDisk({
    token: stored.agentToken,
    hostname: sandboxId,
    env: { ...stored.spec.env, ...(proxyUrl === undefined ? {} : proxyEnvironment(proxyUrl)) },
    pidsLimit: stored.spec.pidsLimit ?? DEFAULT_PIDS_LIMIT,
  });
}

/**
 * Where one VM's VMM-facing files are: the sandbox's directory, or under the jailer its chroot,
 * whose paths Firecracker sees from its root.
 */
interface VmLayout {
  /** Host directory holding the kernel link, disk, vsock socket and FIFOs the VMM opens. */
  readonly root: string;
  /** The API socket, as the host reaches it. */
  readonly apiSocket: string;
  /** A file under {@link root} as Firecracker names it. */
  inVm(hostPath: string): string;
}

/** See the module comment. */
export class FirecrackerBackend implements SandboxBackend {
  readonly kind = "firecracker" as const;
  readonly #o: FirecrackerBackendOptions;
  readonly #relays = new Map<string, () => Promise<void>>();

  constructor(options: FirecrackerBackendOptions) {
    this.#o = options;
  }

  #dir(sandboxId: string): string {
    return path.join(this.#o.stateDir, validId(sandboxId));
  }

  #layout(sandboxId: string): VmLayout {
    const dir = this.#dir(sandboxId);
    const jailer = this.#o.jailer;
    if (jailer === undefined) {
      return { root: dir, apiSocket: path.join(dir, "api.sock"), inVm: (p) => p };
    }
    const jail = jailPaths(jailer, this.#jailedVm(sandboxId, { vcpus: 1, memoryMb: 1 }));
    return {
      root: jail.root,
      apiSocket: jail.apiSocket,
      inVm: (p) => `/${path.relative(jail.root, p)}`,
    };
  }

  #jailedVm(sandboxId: string, spec: Pick<SandboxSpec, "vcpus" | "memoryMb" | "pidsLimit">) {
    return {
      id: sandboxId,
      firecrackerBinary: this.#o.binary,
      vcpus: spec.vcpus,
      memoryMb: spec.memoryMb,
      ...(spec.pidsLimit === undefined ? {} : { pidsLimit: spec.pidsLimit }),
    };
  }

  /**
   * Under the jailer: a fresh chroot holding hard links to the kernel and the VM's disk (the
   * jailer's chroot can see nothing else), owned by the jailed uid.
   */
  async #prepareJail(sandboxId: string, layout: VmLayout): Promise<void> {
    const jailer = this.#o.jailer;
    if (jailer === undefined) return;
    await rm(path.dirname(layout.root), { recursive: true, force: true });
    await mkdir(layout.root, { recursive: true, mode: 0o755 });
    const disk = path.join(layout.root, "rootfs.ext4");
    await link(path.join(this.#dir(sandboxId), "rootfs.ext4"), disk);
    const config = path.join(layout.root, "config.img");
    await link(path.join(this.#dir(sandboxId), "config.img"), config);
    const shared: [string | undefined, string][] = [
      [this.#o.kernelPath, "vmlinux"],
      [this.#o.initrdPath, "initrd.cpio"],
    ];
    for (const [from, name] of shared) {
      if (from === undefined) continue;
      await link(from, path.join(layout.root, name)).catch(() =>
        run("cp", ["--reflink=auto", from, path.join(layout.root, name)]),
      );
    }
    await chown(disk, jailer.uid, jailer.gid);
    await chown(config, jailer.uid, jailer.gid);
  }

  async #stored(sandboxId: string): Promise<StoredSandbox> {
    try {
      return JSON.parse(
        await readFile(path.join(this.#dir(sandboxId), "sandbox.json"), "utf8"),
      ) as StoredSandbox;
    } catch {
      throw Object.assign(new Error(`sandbox ${sandboxId} not found`), { statusCode: 404 });
    }
  }

  async #pid(sandboxId: string): Promise<number | undefined> {
    const text = await readFile(path.join(this.#dir(sandboxId), "firecracker.pid"), "utf8").catch(
      () => "",
    );
    const pid = Number(text.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  /** {@inheritDoc SandboxBackend.create} */
  async create(spec: SandboxSpec): Promise<SandboxInfo> {
    if (spec.command !== undefined) {
      throw new BadRequestError(
        "the firecracker backend always runs the guest agent: command is not supported",
      );
    }
    for (const name of Object.keys(spec.env ?? {})) {
      if (!ENV_NAME.test(name))
        throw new BadRequestError(`invalid environment variable name ${name}`);
    }
    const dir = this.#dir(spec.sandboxId);
    await mkdir(this.#o.stateDir, { recursive: true, mode: 0o700 });
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch {
      throw Object.assign(new Error(`sandbox ${spec.sandboxId} already exists`), {
        statusCode: 409,
      });
    }
    try {
      // A reflink where the filesystem has them, a sparse copy elsewhere: never the full size.
      const disk = path.join(dir, "rootfs.ext4");
      await run("cp", ["--reflink=auto", "--sparse=always", this.#o.rootfsPath, disk]);
      // Grown (sparsely) by the sandbox's disk size; the guest's init resizes the filesystem.
      const extraMb = Math.max(0, Math.round(spec.diskMb ?? DEFAULT_EXTRA_DISK_MB));
      await truncate(disk, (await stat(disk)).size + extraMb * 2 ** 20);
      const network = await this.#o.network?.attach(spec.sandboxId, spec.egress ?? "allow-all");
      const stored: StoredSandbox = {
        spec,
        createdAt: new Date().toISOString(),
        agentToken: randomBytes(32).toString("base64url"),
        ...(network ? { network } : {}),
      };
      await writeFile(path.join(dir, "sandbox.json"), JSON.stringify(stored), { mode: 0o600 });
    } catch (err) {
      await this.remove(spec.sandboxId).catch(() => {});
      throw err;
    }
    return this.inspect(spec.sandboxId);
  }

  /** The VM's configuration, as sent to Firecracker. */
  #vmConfig(sandboxId: string, stored: StoredSandbox): FirecrackerVmConfig {
    const dir = this.#dir(sandboxId);
    const layout = this.#layout(sandboxId);
    const at = (name: string) => layout.inVm(path.join(layout.root, name));
    return {
      vcpus: stored.spec.vcpus,
      memoryMib: stored.spec.memoryMb,
      kernelPath: this.#o.jailer ? at("vmlinux") : this.#o.kernelPath,
      bootArgs: firecrackerBootArgs(stored.network),
      rootfsPath: this.#o.jailer ? at("rootfs.ext4") : path.join(dir, "rootfs.ext4"),
      ...(stored.network ? { network: { tap: stored.network.tap, mac: stored.network.mac } } : {}),
      ...(this.#o.initrdPath === undefined
        ? {}
        : { initrdPath: this.#o.jailer ? at("initrd.cpio") : this.#o.initrdPath }),
      configDrivePath: this.#o.jailer ? at("config.img") : path.join(dir, "config.img"),
      vsock: { guestCid: GUEST_CID, udsPath: at("vsock.sock") },
      logPath: at("log.fifo"),
      metricsPath: at("metrics.fifo"),
    };
  }

  /** {@inheritDoc SandboxBackend.start} */
  async start(sandboxId: string): Promise<void> {
    const stored = await this.#stored(sandboxId);
    if (alive(await this.#pid(sandboxId))) return;
    const dir = this.#dir(sandboxId);
    const layout = this.#layout(sandboxId);
    for (const f of ["api.sock", "vsock.sock", "log.fifo", "metrics.fifo", "exit", "config.img"]) {
      await rm(path.join(dir, f), { force: true });
    }
    await writeFile(path.join(dir, "config.img"), configDisk(sandboxId, stored), { mode: 0o600 });
    await this.#prepareJail(sandboxId, layout);
    // Firecracker writes its log and metrics into FIFOs; a detached `cat` per FIFO copies them
    // to files, so they outlive a worker restart as the VM does.
    for (const [fifo, file] of [
      ["log.fifo", "firecracker.log"],
      ["metrics.fifo", "metrics.jsonl"],
    ] as const) {
      await run("mkfifo", ["-m", "0600", path.join(layout.root, fifo)]);
      if (this.#o.jailer) {
        await chown(path.join(layout.root, fifo), this.#o.jailer.uid, this.#o.jailer.gid);
      }
      spawn(
        "sh",
        ["-c", 'exec cat "$1" >> "$2"', "sh", path.join(layout.root, fifo), path.join(dir, file)],
        {
          detached: true,
          stdio: "ignore",
        },
      ).unref();
    }
    const apiSocket = layout.apiSocket;
    const jailer = this.#o.jailer;
    const vmm = jailer
      ? [jailer.binary, ...jailerArgv(jailer, this.#jailedVm(sandboxId, stored.spec))]
      : [this.#o.binary, "--api-sock", apiSocket, "--id", sandboxId.slice(0, 60)];
    // Detached: the VM outlives the worker process; its exit code is kept for inspect. The
    // jailer execs Firecracker in its own process, so either way the shell's child is the VMM.
    const child = spawn(
      "sh",
      [
        "-c",
        'out=$1 code=$2; shift 2; "$@" > "$out" 2>&1; echo $? > "$code"',
        "sh",
        path.join(dir, "console.log"),
        path.join(dir, "exit"),
        ...vmm,
      ],
      { detached: true, stdio: "ignore" },
    );
    child.unref();
    const api = new FirecrackerApi(apiSocket);
    const up = await until(
      () =>
        api.describe().then(
          () => true,
          () => false,
        ),
      this.#o.apiTimeoutMs ?? 5000,
    );
    if (!up) {
      await this.#killTree(child.pid);
      throw new Error(`firecracker did not open its API socket ${apiSocket}`);
    }
    const pid = await this.#firecrackerPid(child.pid);
    await writeFile(path.join(dir, "firecracker.pid"), String(pid ?? child.pid));
    try {
      for (const request of configurationRequests(this.#vmConfig(sandboxId, stored))) {
        await api.send(request);
      }
      await api.send(actionRequest("InstanceStart"));
      await this.#ensureRelay(sandboxId);
    } catch (err) {
      await this.#killTree(pid ?? child.pid);
      throw err;
    }
  }

  /** The `firecracker` child of the `sh` that runs it. */
  async #firecrackerPid(shellPid: number | undefined): Promise<number | undefined> {
    if (shellPid === undefined) return undefined;
    const out = await run("pgrep", ["-P", String(shellPid)]).catch(() => ({ stdout: "" }));
    const pid = Number(out.stdout.trim().split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  #killTree(pid: number | undefined): Promise<void> {
    if (pid === undefined) return Promise.resolve();
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    return Promise.resolve();
  }

  async #ensureRelay(sandboxId: string): Promise<void> {
    if (this.#relays.has(sandboxId)) return;
    const relayPath = this.agentSocketPath(sandboxId);
    await rm(relayPath, { force: true });
    this.#relays.set(
      sandboxId,
      await relayVsock(
        relayPath,
        path.join(this.#layout(sandboxId).root, "vsock.sock"),
        FIRECRACKER_AGENT_PORT,
      ),
    );
  }

  /** {@inheritDoc SandboxBackend.stop} */
  async stop(sandboxId: string, options: { timeoutSec?: number } = {}): Promise<void> {
    await this.#stored(sandboxId);
    const pid = await this.#pid(sandboxId);
    if (!alive(pid)) return;
    const api = new FirecrackerApi(this.#layout(sandboxId).apiSocket);
    // Ctrl-Alt-Del makes the guest reboot, which `reboot=k` turns into the VMM's exit.
    await api.send(actionRequest("SendCtrlAltDel")).catch(() => {});
    const timeoutMs = (options.timeoutSec ?? 10) * 1000;
    if (!(await until(() => Promise.resolve(!alive(pid)), timeoutMs))) await this.#killTree(pid);
    await until(() => Promise.resolve(!alive(pid)), 5000);
    await this.#relays.get(sandboxId)?.();
    this.#relays.delete(sandboxId);
  }

  /** Kills the VM at once (a hung guest). */
  async kill(sandboxId: string): Promise<void> {
    const pid = await this.#pid(sandboxId);
    await this.#killTree(pid);
    await until(() => Promise.resolve(!alive(pid)), 5000);
  }

  /** {@inheritDoc SandboxBackend.remove} */
  async remove(sandboxId: string): Promise<void> {
    const dir = this.#dir(sandboxId);
    await this.kill(sandboxId).catch(() => {});
    await this.#relays.get(sandboxId)?.();
    this.#relays.delete(sandboxId);
    await this.#o.network?.detach(sandboxId);
    if (this.#o.jailer) {
      let jail: string | undefined;
      try {
        jail = this.#layout(sandboxId).root;
      } catch {
        // An id the jailer refuses never had a jail.
      }
      if (jail !== undefined) await rm(path.dirname(jail), { recursive: true, force: true });
    }
    await rm(dir, { recursive: true, force: true });
  }

  /** {@inheritDoc SandboxBackend.inspect} */
  async inspect(sandboxId: string): Promise<SandboxInfo> {
    const stored = await this.#stored(sandboxId);
    const dir = this.#dir(sandboxId);
    const pid = await this.#pid(sandboxId);
    const running = alive(pid);
    const exitText = await readFile(path.join(dir, "exit"), "utf8").catch(() => undefined);
    if (running) await this.#ensureRelay(sandboxId).catch(() => {});
    return {
      sandboxId,
      workerId: stored.spec.workerId,
      backend: "firecracker",
      backendId: dir,
      state: running ? "running" : pid === undefined ? "created" : "exited",
      exitCode: exitText === undefined ? undefined : Number(exitText.trim()),
      oomKilled: false,
      image: stored.spec.image ?? this.#o.rootfsPath,
      labels: stored.spec.labels ?? {},
      createdAt: new Date(stored.createdAt),
      startedAt: undefined,
    };
  }

  /** {@inheritDoc SandboxBackend.list} */
  async list(filter: { workerId?: string } = {}): Promise<SandboxInfo[]> {
    const names = await readdir(this.#o.stateDir).catch(() => [] as string[]);
    const out: SandboxInfo[] = [];
    for (const name of names) {
      const info = await this.inspect(name).catch(() => undefined);
      if (info === undefined) {
        await this.#removeIfHalfMade(name);
        continue;
      }
      if (filter.workerId === undefined || info.workerId === filter.workerId) out.push(info);
    }
    // What a VM removed behind the backend's back left on the network (its TAP, its lease).
    const live = (await readdir(this.#o.stateDir).catch(() => [] as string[])).filter((n) =>
      VALID_ID.test(n),
    );
    await this.#o.network?.reconcile(live).catch((err: unknown) => {
      this.#o.logger?.warn({ err }, "reconciling the VM network failed");
    });
    return out;
  }

  /**
   * A directory without `sandbox.json` is a create that died before writing it (or after its
   * disk copy): its disk copy would stay forever, so it goes once it is old enough not to be a
   * create still under way, and no VMM of it runs.
   */
  async #removeIfHalfMade(name: string): Promise<void> {
    if (!VALID_ID.test(name)) return;
    const dir = path.join(this.#o.stateDir, name);
    if (
      await readFile(path.join(dir, "sandbox.json")).then(
        () => true,
        () => false,
      )
    )
      return;
    const age =
      Date.now() -
      (await stat(dir).then(
        (s) => s.mtimeMs,
        () => Date.now(),
      ));
    if (age < HALF_MADE_GRACE_MS || alive(await this.#pid(name))) return;
    this.#o.logger?.warn({ sandboxId: name }, "removing the directory of an unfinished VM create");
    await this.remove(name);
  }

  /** {@inheritDoc SandboxBackend.agentSocketPath} */
  agentSocketPath(sandboxId: string): string {
    return path.join(this.#dir(sandboxId), "agent.sock");
  }

  /** {@inheritDoc SandboxBackend.agentToken} */
  async agentToken(sandboxId: string): Promise<string | undefined> {
    return (await this.#stored(sandboxId)).agentToken;
  }

  /** {@inheritDoc SandboxBackend.close} */
  async close(): Promise<void> {
    for (const close of this.#relays.values()) await close();
    this.#relays.clear();
    await this.#o.network?.close();
  }
}
