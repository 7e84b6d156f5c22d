/**
 * The QEMU microVM backend: one `qemu-system-x86_64 -M microvm` per sandbox, booting the VM
 * image of `vm-image/` (kernel + initramfs + a qcow2 overlay of the root disk template), with
 * the guest agent reached over a virtio-serial port whose host side is a unix socket.
 *
 * Every VM keeps its state in its own run directory (`<stateDir>/<sandboxId>/`): `vm.json` (the
 * spec and token, 0600), `disk.qcow2`, `config.img` (the config disk), `qemu.pid`, `qmp.sock`,
 * `agent.sock`, `control.sock`, `console.log` and `state.json` (start and stop times). QEMU is
 * daemonized, so a worker restart leaves VMs running; `inspect` and `list` rebuild everything from
 * the run directories, the pid files and QMP, which is what reconciliation after a restart reads.
 * A VM's network (a TAP enforcing its egress policy) comes from `attachNetwork` at each start
 * and goes at remove; `list` releases those of VMs that no longer exist.
 * @module
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  access,
  constants,
  link,
  mkdir,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { BadRequestError, type Logger } from "@aetherium/common";
import type { EgressPolicy } from "@aetherium/types";
import type { SandboxBackend, SandboxInfo, SandboxSpec } from "../backends/sandbox-backend.js";
import { SandboxConflictError, SandboxNotFoundError } from "../docker/docker-errors.js";
import type { VmImage } from "../vm-image/build-vm-image.js";
import { guestConfigDisk } from "../vm-image/guest-config.js";
import { GUEST_PORTS } from "../vm-image/guest-init.js";
import { qmpCommands } from "./qmp-client.js";
import { serialHandshake } from "./serial-handshake.js";

const run = promisify(execFile);

/** The image name VMs of this backend report; there is one guest image per worker. */
export const QEMU_IMAGE_NAME = "aetherium/vm-base";

/**
 * A network interface for a VM, made by the VM networking code: a TAP device on the host and the
 * guest's address. Without one the VM has no network interface at all.
 */
export interface QemuNetworkAttachment {
  readonly tap: string;
  readonly mac: string;
  readonly address: string;
  readonly prefixLength: number;
  readonly gateway?: string;
  readonly dns?: string;
  /**
   * With an egress allow-list: the egress proxy's URL, the guest's only way out. It reaches the
   * guest's environment as `HTTP(S)_PROXY` (see {@link proxyEnvironment}).
   */
  readonly proxyUrl?: string;
}

/**
 * The environment that sends a guest's HTTP clients through the egress proxy at `proxyUrl`:
 * the variables the Docker backend sets in an allow-list container, so a sandbox behaves the
 * same on either backend.
 */
export function proxyEnvironment(proxyUrl: string): Record<string, string> {
  return {
    HTTP_PROXY: proxyUrl,
    HTTPS_PROXY: proxyUrl,
    http_proxy: proxyUrl,
    https_proxy: proxyUrl,
    NO_PROXY: "localhost,127.0.0.1,::1",
    no_proxy: "localhost,127.0.0.1,::1",
    // Node's own fetch honours the variables only when asked to (Node ≥ 22.21 / 24).
    NODE_USE_ENV_PROXY: "1",
  };
}

/** Settings of the {@link QemuBackend}. */
export interface QemuBackendOptions {
  /** Where the VMs' run directories live. */
  readonly stateDir: string;
  /** The guest image to boot (see `buildVmImage`). */
  readonly image: VmImage;
  /** `kvm`, `tcg`, or `auto` (default): KVM when `/dev/kvm` runs a guest, TCG otherwise. */
  readonly accel?: "kvm" | "tcg" | "auto";
  /** The QEMU binary; default `qemu-system-x86_64` on the PATH. */
  readonly qemuBinary?: string;
  /**
   * Gives a VM its network interface, enforcing the sandbox's egress policy, each time it starts;
   * absent or undefined: none. Called again for a VM that had one (a restart): it must hand out
   * a fresh TAP for the same sandbox.
   */
  readonly attachNetwork?: (
    sandboxId: string,
    egress: EgressPolicy,
  ) => Promise<QemuNetworkAttachment | undefined>;
  /** Releases what {@link attachNetwork} made for a VM (its TAP, rules, address); on remove. */
  readonly detachNetwork?: (sandboxId: string) => Promise<void>;
  /**
   * Releases network attachments of VMs other than `live` (every run directory there is):
   * what a VM removed behind the backend's back, or a crash half-way through a remove, left.
   * Run by {@link QemuBackend.list}, which is what reconciliation reads.
   */
  readonly reconcileNetwork?: (live: readonly string[]) => Promise<unknown>;
  /** Releases what the network holds open (its egress proxy) when the backend closes. */
  readonly close?: () => Promise<void>;
  readonly logger?: Logger;
}

interface VmRecord {
  readonly sandboxId: string;
  readonly workerId: string;
  readonly vcpus: number;
  readonly memoryMb: number;
  /** Absent in records written before VMs had one: {@link DEFAULT_PIDS_LIMIT}. */
  readonly pidsLimit?: number;
  readonly labels: Record<string, string>;
  readonly env: Record<string, string>;
  /** Absent in records written before VMs had networks: the spec's default, `allow-all`. */
  readonly egress?: EgressPolicy;
  readonly token: string;
  readonly createdAt: string;
}

interface VmState {
  startedAt?: string;
  stoppedAt?: string;
  exitCode?: number;
}

/** The process limit of a VM's sandbox when its spec names none: the Docker backend's default. */
const DEFAULT_PIDS_LIMIT = 1024;
// Free space added to a VM's root disk when the sandbox names no disk size.
const DEFAULT_EXTRA_DISK_MB = 1024;
// How old a run directory without vm.json must be before list() takes it for a dead create.
const HALF_MADE_GRACE_MS = 60_000;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function validId(sandboxId: string): string {
  if (!ID_PATTERN.test(sandboxId)) throw new BadRequestError(`invalid sandbox id ${sandboxId}`);
  return sandboxId;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file, constants.F_OK).then(
    () => true,
    () => false,
  );
}

/** Runs QEMU microVMs as sandboxes. See the module comment for the on-disk layout. */
export class QemuBackend implements SandboxBackend {
  readonly kind = "qemu" as const;
  /**
   * Under KVM a guest answers in well under a second; under TCG on a busy host a boot has taken
   * most of a minute. A hung guest is only found later for it, which is the cheaper mistake.
   */
  readonly agentReadyTimeoutMs = 180_000;
  readonly agentHandshake = serialHandshake;
  readonly #opts: QemuBackendOptions;
  readonly #busy = new Map<string, Promise<unknown>>();
  #warnedNetwork = false;
  // Attachments under way and the network reconcile pass in flight: a pass must not take a VM
  // being attached for one that no longer exists, so each waits for the other.
  readonly #attaching = new Set<Promise<unknown>>();
  #networkPass: Promise<void> | undefined;
  #probedAccel: Promise<"kvm" | "tcg"> | undefined;

  constructor(options: QemuBackendOptions) {
    this.#opts = options;
  }

  /** The run directory of one VM. */
  runDir(sandboxId: string): string {
    return path.join(this.#opts.stateDir, validId(sandboxId));
  }

  /** {@inheritDoc SandboxBackend.agentSocketPath} */
  agentSocketPath(sandboxId: string): string {
    return path.join(this.runDir(sandboxId), "agent.sock");
  }

  /** {@inheritDoc SandboxBackend.agentToken} */
  async agentToken(sandboxId: string): Promise<string | undefined> {
    return (await this.#record(sandboxId)).token;
  }

  /** One operation per VM at a time: a start racing a stop would leave either half done. */
  #serial<T>(sandboxId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#busy.get(sandboxId) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#busy.set(sandboxId, tail);
    void tail.then(() => {
      if (this.#busy.get(sandboxId) === tail) this.#busy.delete(sandboxId);
    });
    return next;
  }

  async #record(sandboxId: string): Promise<VmRecord> {
    const text = await readFile(path.join(this.runDir(sandboxId), "vm.json"), "utf8").catch(
      () => undefined,
    );
    if (text === undefined) throw new SandboxNotFoundError(sandboxId);
    return JSON.parse(text) as VmRecord;
  }

  async #state(sandboxId: string): Promise<VmState> {
    const text = await readFile(path.join(this.runDir(sandboxId), "state.json"), "utf8").catch(
      () => "{}",
    );
    return JSON.parse(text) as VmState;
  }

  async #writeState(sandboxId: string, state: VmState): Promise<void> {
    await writeFile(path.join(this.runDir(sandboxId), "state.json"), JSON.stringify(state));
  }

  /** The pid of the VM's QEMU while it runs, else undefined. */
  async #pid(sandboxId: string): Promise<number | undefined> {
    const text = await readFile(path.join(this.runDir(sandboxId), "qemu.pid"), "utf8").catch(
      () => "",
    );
    const pid = Number(text.trim());
    if (!(pid > 0) || !processAlive(pid)) return undefined;
    // A recycled pid is some other program: only a QEMU with this VM's files is ours.
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    return cmdline.includes(this.runDir(sandboxId)) ? pid : undefined;
  }

  /** {@inheritDoc SandboxBackend.create} */
  create(spec: SandboxSpec): Promise<SandboxInfo> {
    const sandboxId = validId(spec.sandboxId);
    return this.#serial(sandboxId, async () => {
      if (spec.command !== undefined) {
        throw new BadRequestError(
          "the qemu backend always runs the guest agent: command is not supported",
        );
      }
      for (const name of Object.keys(spec.env ?? {})) {
        if (!ENV_NAME.test(name))
          throw new BadRequestError(`invalid environment variable name ${name}`);
      }
      const dir = this.runDir(sandboxId);
      await mkdir(this.#opts.stateDir, { recursive: true, mode: 0o711 });
      try {
        await mkdir(dir, { mode: 0o700 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") {
          throw new SandboxConflictError(`sandbox ${sandboxId} already exists`, { cause: err });
        }
        throw err;
      }
      try {
        const extraDiskMb = Math.max(0, Math.round(spec.diskMb ?? DEFAULT_EXTRA_DISK_MB));
        const record: VmRecord = {
          sandboxId,
          workerId: spec.workerId,
          vcpus: Math.max(1, Math.ceil(spec.vcpus)),
          memoryMb: Math.max(128, Math.round(spec.memoryMb)),
          pidsLimit: Math.max(1, Math.round(spec.pidsLimit ?? DEFAULT_PIDS_LIMIT)),
          labels: { ...spec.labels },
          env: { ...spec.env },
          egress: spec.egress ?? "allow-all",
          token: randomBytes(32).toString("hex"),
          createdAt: new Date().toISOString(),
        };
        await writeFile(path.join(dir, "vm.json"), JSON.stringify(record), { mode: 0o600 });
        // The overlay's backing file is a hard link to the template where the filesystem
        // allows: a later image build may prune the template from the cache, and a stopped VM
        // must still start. Elsewhere the overlay points into the cache.
        const base = path.join(dir, "base.ext4");
        const backing = await link(this.#opts.image.rootfs, base).then(
          () => base,
          () => this.#opts.image.rootfs,
        );
        await run("qemu-img", [
          "create",
          "-q",
          "-f",
          "qcow2",
          "-b",
          backing,
          "-F",
          "raw",
          path.join(dir, "disk.qcow2"),
          // Grown beyond the template by the sandbox's disk size; the guest's init resizes the
          // filesystem to it at boot.
          String((await stat(this.#opts.image.rootfs)).size + extraDiskMb * 2 ** 20),
        ]);
        return await this.#info(sandboxId);
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    });
  }

  /** The config disk: the settings the guest's init reads, as shell assignments, root-only. */
  async #writeConfigDisk(
    record: VmRecord,
    network: QemuNetworkAttachment | undefined,
  ): Promise<string> {
    const env = {
      ...record.env,
      ...(network?.proxyUrl === undefined ? {} : proxyEnvironment(network.proxyUrl)),
    };
    const disk = guestConfigDisk({
      token: record.token,
      hostname: record.sandboxId,
      env,
      pidsLimit: record.pidsLimit ?? DEFAULT_PIDS_LIMIT,
    });
    const file = path.join(this.runDir(record.sandboxId), "config.img");
    await writeFile(file, disk, { mode: 0o600 });
    return file;
  }

  /**
   * The accelerator VMs run with. `auto` asks QEMU once: a `/dev/kvm` can exist and still run no
   * guests (a nested VM whose KVM lacks what `-cpu host` needs makes QEMU abort at start), so
   * KVM is used only when a paused VM with it starts and quits cleanly; otherwise TCG.
   */
  accel(): Promise<"kvm" | "tcg"> {
    const accel = this.#opts.accel ?? "auto";
    if (accel !== "auto") return Promise.resolve(accel);
    this.#probedAccel ??= (async () => {
      if (!(await exists("/dev/kvm"))) return "tcg" as const;
      const probe = [
        ...["-M", "microvm", "-accel", "kvm", "-cpu", "host", "-display", "none"],
        ...["-nodefaults", "-no-user-config", "-S", "-qmp", "stdio"],
      ];
      const works = await new Promise<boolean>((resolve) => {
        const child = execFile(
          this.#opts.qemuBinary ?? "qemu-system-x86_64",
          probe,
          { timeout: 10_000 },
          (err) => resolve(err === null),
        );
        child.stdin?.end('{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n');
      });
      if (!works) {
        this.#opts.logger?.warn("/dev/kvm exists but QEMU cannot run a KVM guest: using TCG");
      }
      return works ? ("kvm" as const) : ("tcg" as const);
    })();
    return this.#probedAccel;
  }

  /** The QEMU command line of a VM. */
  async commandLine(
    record: VmRecord,
    network: QemuNetworkAttachment | undefined,
  ): Promise<string[]> {
    const dir = this.runDir(record.sandboxId);
    const { image } = this.#opts;
    const accel = await this.accel();
    const append = ["console=ttyS0", "reboot=t", "panic=-1", "quiet"];
    // Under TCG the kernel finds no reference to calibrate the TSC against and can stall
    // waiting for timer ticks; a stated frequency and loop count skip both calibrations.
    if (accel === "tcg") append.push("tsc_early_khz=2000000", "lpj=2000000");
    if (network !== undefined) {
      append.push(
        `ip=${network.address}::${network.gateway ?? ""}:${network.prefixLength}::eth0:off${
          network.dns === undefined ? "" : `:${network.dns}`
        }`,
      );
    }
    const sock = (name: string) => path.join(dir, name);
    return [
      "-name",
      `aetherium-${record.sandboxId}`,
      "-M",
      accel === "tcg" ? "microvm,pit=on,pic=on,rtc=on" : "microvm,rtc=on",
      ...(accel === "kvm" ? ["-enable-kvm", "-cpu", "host"] : ["-accel", "tcg"]),
      "-smp",
      String(record.vcpus),
      "-m",
      String(record.memoryMb),
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-no-reboot",
      "-kernel",
      image.kernel,
      "-initrd",
      image.initrd,
      "-append",
      append.join(" "),
      "-chardev",
      `file,id=console,path=${sock("console.log")},append=on`,
      "-serial",
      "chardev:console",
      "-drive",
      `id=root,file=${sock("disk.qcow2")},format=qcow2,if=none`,
      "-device",
      "virtio-blk-device,drive=root",
      "-drive",
      `id=config,file=${sock("config.img")},format=raw,if=none,readonly=on`,
      "-device",
      "virtio-blk-device,drive=config",
      "-device",
      "virtio-serial-device",
      "-chardev",
      `socket,id=agent,path=${sock("agent.sock")},server=on,wait=off`,
      "-device",
      `virtserialport,chardev=agent,name=${GUEST_PORTS.agent}`,
      "-chardev",
      `socket,id=control,path=${sock("control.sock")},server=on,wait=off`,
      "-device",
      `virtserialport,chardev=control,name=${GUEST_PORTS.control}`,
      ...(network === undefined
        ? ["-nic", "none"]
        : [
            "-netdev",
            `tap,id=net0,ifname=${network.tap},script=no,downscript=no`,
            "-device",
            `virtio-net-device,netdev=net0,mac=${network.mac}`,
          ]),
      "-qmp",
      `unix:${sock("qmp.sock")},server=on,wait=off`,
      "-pidfile",
      sock("qemu.pid"),
      "-daemonize",
    ];
  }

  /** {@inheritDoc SandboxBackend.start} */
  start(sandboxId: string): Promise<void> {
    return this.#serial(sandboxId, async () => {
      const record = await this.#record(sandboxId);
      if ((await this.#pid(sandboxId)) !== undefined) return;
      const dir = this.runDir(sandboxId);
      for (const name of ["agent.sock", "control.sock", "qmp.sock", "qemu.pid"]) {
        await rm(path.join(dir, name), { force: true });
      }
      const network = await this.#attachNetwork(record);
      await this.#writeConfigDisk(record, network);
      if (network === undefined && !this.#warnedNetwork) {
        this.#warnedNetwork = true;
        this.#opts.logger?.warn(
          "qemu sandboxes start without a network interface (no VM networking is configured)",
        );
      }
      const args = await this.commandLine(record, network);
      const state = await this.#state(sandboxId);
      try {
        // -daemonize: QEMU returns once the VM is set up, and its process outlives this worker.
        await run(this.#opts.qemuBinary ?? "qemu-system-x86_64", args, { timeout: 60_000 });
      } catch (err) {
        const stderr = (err as { stderr?: string }).stderr ?? (err as Error).message;
        throw new Error(`qemu failed to start sandbox ${sandboxId}: ${stderr.trim()}`, {
          cause: err,
        });
      }
      await this.#writeState(sandboxId, { ...state, startedAt: new Date().toISOString() });
    });
  }

  async #attachNetwork(record: VmRecord): Promise<QemuNetworkAttachment | undefined> {
    const attach = this.#opts.attachNetwork;
    if (attach === undefined) return undefined;
    while (this.#networkPass !== undefined) await this.#networkPass;
    const attaching = attach(record.sandboxId, record.egress ?? "allow-all");
    this.#attaching.add(attaching);
    try {
      return await attaching;
    } finally {
      this.#attaching.delete(attaching);
    }
  }

  /** One network reconcile pass at a time, after the attachments under way (see the option). */
  #reconcileNetwork(): Promise<void> {
    const reconcile = this.#opts.reconcileNetwork;
    if (reconcile === undefined) return Promise.resolve();
    this.#networkPass ??= (async () => {
      await Promise.allSettled([...this.#attaching]);
      const names = await readdir(this.#opts.stateDir).catch(() => [] as string[]);
      await reconcile(names.filter((name) => ID_PATTERN.test(name)));
    })()
      .catch((err: unknown) => {
        this.#opts.logger?.warn({ err }, "reconciling the VM network failed");
      })
      .finally(() => {
        this.#networkPass = undefined;
      });
    return this.#networkPass;
  }

  /** Waits until the VM's QEMU has exited, up to `ms`; true if it has. */
  async #waitExit(sandboxId: string, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if ((await this.#pid(sandboxId)) === undefined) return true;
      await sleep(100);
    }
    return (await this.#pid(sandboxId)) === undefined;
  }

  /** Asks the guest's init to power off (sync, unmount, power off) on the control port. */
  async #askPoweroff(sandboxId: string): Promise<void> {
    const socket = net.createConnection(path.join(this.runDir(sandboxId), "control.sock"));
    await new Promise<void>((resolve) => {
      socket.once("connect", () => socket.write("poweroff\n", () => resolve()));
      socket.once("error", () => resolve());
    });
    // Held open until the VM is gone: closing at once could drop the line before the guest reads it.
    setTimeout(() => socket.destroy(), 30_000).unref();
  }

  /** {@inheritDoc SandboxBackend.stop} */
  stop(sandboxId: string, options: { timeoutSec?: number } = {}): Promise<void> {
    return this.#serial(sandboxId, async () => {
      await this.#record(sandboxId);
      const pid = await this.#pid(sandboxId);
      if (pid === undefined) return;
      const timeoutMs = (options.timeoutSec ?? 10) * 1000;
      await this.#askPoweroff(sandboxId);
      let clean = await this.#waitExit(sandboxId, timeoutMs);
      if (!clean) {
        await qmpCommands(path.join(this.runDir(sandboxId), "qmp.sock"), [
          { execute: "quit" },
        ]).catch(() => undefined);
        if (!(await this.#waitExit(sandboxId, 2000))) {
          process.kill(pid, "SIGKILL");
          await this.#waitExit(sandboxId, 5000);
        }
        clean = false;
      }
      const state = await this.#state(sandboxId);
      await this.#writeState(sandboxId, {
        ...state,
        stoppedAt: new Date().toISOString(),
        exitCode: clean ? 0 : 137,
      });
    });
  }

  /**
   * {@inheritDoc SandboxBackend.setPaused}
   * QMP `stop`/`cont`: the vCPUs halt, the guest's memory stays in the QEMU process.
   */
  setPaused(sandboxId: string, paused: boolean): Promise<void> {
    return this.#serial(validId(sandboxId), async () => {
      await this.#record(sandboxId);
      if ((await this.#pid(sandboxId)) === undefined) {
        throw new Error(
          `sandbox ${sandboxId} is not running; it cannot be ${paused ? "paused" : "resumed"}`,
        );
      }
      await qmpCommands(path.join(this.runDir(sandboxId), "qmp.sock"), [
        { execute: paused ? "stop" : "cont" },
      ]);
    });
  }

  /** {@inheritDoc SandboxBackend.remove} */
  remove(sandboxId: string): Promise<void> {
    return this.#serial(sandboxId, async () => {
      const pid = await this.#pid(sandboxId);
      if (pid !== undefined) {
        process.kill(pid, "SIGKILL");
        await this.#waitExit(sandboxId, 5000);
      }
      // Before the run directory goes: if this fails, the VM is still listed and removed again.
      await this.#opts.detachNetwork?.(sandboxId);
      await rm(this.runDir(sandboxId), { recursive: true, force: true });
    });
  }

  async #info(sandboxId: string): Promise<SandboxInfo> {
    const record = await this.#record(sandboxId);
    const state = await this.#state(sandboxId);
    const pid = await this.#pid(sandboxId);
    let status: SandboxInfo["state"];
    if (pid !== undefined) {
      const [result] = await qmpCommands(path.join(this.runDir(sandboxId), "qmp.sock"), [
        { execute: "query-status" },
      ]).catch(() => [undefined]);
      const qemuStatus = (result as { status?: string } | undefined)?.status;
      status = qemuStatus === "paused" ? "paused" : "running";
    } else {
      status = state.startedAt === undefined ? "created" : "exited";
    }
    return {
      sandboxId,
      workerId: record.workerId,
      backend: "qemu",
      backendId: path.join(this.runDir(sandboxId), "qemu.pid"),
      state: status,
      // A VM that stopped without its QEMU being asked to (it powered off, it crashed) has no
      // exit code of its own: 0 after a clean power-off, else what the stop recorded.
      exitCode: status === "exited" ? (state.exitCode ?? 0) : undefined,
      oomKilled: false,
      image: QEMU_IMAGE_NAME,
      labels: record.labels,
      createdAt: new Date(record.createdAt),
      startedAt: state.startedAt === undefined ? undefined : new Date(state.startedAt),
    };
  }

  /** {@inheritDoc SandboxBackend.inspect} */
  inspect(sandboxId: string): Promise<SandboxInfo> {
    return this.#info(validId(sandboxId));
  }

  /**
   * A run directory without `vm.json` is a create that died before it wrote one: nothing can
   * use it, so it goes once it is old enough not to be a create still under way.
   */
  async #removeIfHalfMade(sandboxId: string): Promise<void> {
    const dir = this.runDir(sandboxId);
    if (this.#busy.has(sandboxId) || (await exists(path.join(dir, "vm.json")))) return;
    const age =
      Date.now() -
      (await stat(dir).then(
        (s) => s.mtimeMs,
        () => Date.now(),
      ));
    if (age < HALF_MADE_GRACE_MS || (await this.#pid(sandboxId)) !== undefined) return;
    this.#opts.logger?.warn({ sandboxId }, "removing the run directory of an unfinished VM create");
    await rm(dir, { recursive: true, force: true });
  }

  /** {@inheritDoc SandboxBackend.close} */
  async close(): Promise<void> {
    await this.#networkPass;
    await this.#opts.close?.();
  }

  /** {@inheritDoc SandboxBackend.list} */
  async list(filter: { workerId?: string } = {}): Promise<SandboxInfo[]> {
    const names = await readdir(this.#opts.stateDir).catch(() => [] as string[]);
    const out: SandboxInfo[] = [];
    for (const name of names) {
      if (!ID_PATTERN.test(name)) continue;
      const info = await this.#info(name).catch(() => undefined);
      if (info === undefined) {
        await this.#removeIfHalfMade(name);
        continue;
      }
      if (filter.workerId !== undefined && info.workerId !== filter.workerId) continue;
      out.push(info);
    }
    await this.#reconcileNetwork();
    return out;
  }
}
