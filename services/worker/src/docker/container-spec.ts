/**
 * What a sandbox becomes on Docker: the create options of its container, as a pure function of
 * its spec and what the backend decided around it (image, token, run directory, networks).
 * Every hardening choice of a sandbox container is made here, where it can be read and tested
 * without an engine.
 * @module
 */
import { AGENT_TOKEN_ENV, type EgressPolicy } from "@aetherium/types";
import type Docker from "dockerode";
import type { SandboxSpec } from "../backends/sandbox-backend.js";
import { IMAGE_PATHS } from "../image/image-layout.js";

/** Labels every managed container carries; `listManaged` and the reaper select on them. */
export const SANDBOX_LABELS = {
  sandboxId: "aetherium.sandbox-id",
  workerId: "aetherium.worker-id",
  managed: "aetherium.managed",
} as const;

/** The bridge sandboxes with egress share; inter-container traffic on it is disabled. */
export const SANDBOX_NETWORK = "aetherium0";

/**
 * Capabilities a sandbox keeps after `CapDrop: ["ALL"]`: what a root dev shell needs to install
 * packages and manage its own files and processes, and nothing that reaches the host or network
 * stack. This list is also the container's bounding set: nothing in the sandbox, setuid
 * binaries and file capabilities included, can ever hold a capability outside it.
 *
 * - `CHOWN`: dpkg, tar, npm and git set file owners while installing/extracting.
 * - `DAC_OVERRIDE`: root reads and writes files whatever their mode, as every tool run as root
 *   assumes (apt's lists owned by `_apt`, a `chmod 000` file in a build tree).
 * - `FOWNER`: chmod/utime/xattrs on files root does not own (tar and dpkg restoring metadata).
 * - `FSETID`: keep setuid/setgid bits when chmod-ing files of other owners; dpkg would otherwise
 *   silently strip them from installed files.
 * - `SETUID` / `SETGID`: apt drops to `_apt`; `su`/`runuser`/`setpriv` run things as a non-root
 *   user inside the sandbox, which is the safer way to run untrusted code.
 * - `KILL`: signal processes of other users (stopping a dev server started as another uid).
 * - `NET_BIND_SERVICE`: dev servers on ports below 1024 (80, 443) inside the sandbox.
 *
 * Left out on purpose: `NET_RAW` (packet spoofing on the bridge; `ping` is not installed),
 * `MKNOD`, `SYS_CHROOT`, `AUDIT_WRITE`, `SETFCAP`, `SETPCAP`, and all `SYS_*`/`NET_ADMIN`.
 */
export const SANDBOX_CAP_ADD: readonly string[] = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "SETUID",
  "SETGID",
  "KILL",
  "NET_BIND_SERVICE",
];

/**
 * The container's security options: none, which leaves Docker's default seccomp profile (and its
 * default AppArmor profile where the host has AppArmor) in force, and setuid working.
 *
 * Why not `no-new-privileges`: the base image gives the sandbox user `user` passwordless `sudo`,
 * as E2B's does, and E2B code runs `sudo` (its own SDK tests do). `sudo` is setuid root, and
 * under `no-new-privileges` the kernel ignores the setuid bit, so `sudo` refuses to run. Letting
 * setuid work grants nothing new:
 *
 * - The API already runs any command as root in the sandbox (`user: "root"` on exec, E2B's
 *   `{ user: "root" }`), so `user` reaching root in the same container is a step the sandbox's
 *   owner can take anyway. The boundary that matters is the container's, not `user`'s.
 * - Root in the container stays bounded: every capability outside {@link SANDBOX_CAP_ADD} is
 *   dropped from the bounding set, and an exec of a setuid-root binary (or of a file with file
 *   capabilities) gets at most the bounding set, never more. The seccomp default profile, no
 *   `privileged`, the tmpfs run directory and the egress firewall are the same for a root
 *   reached through `sudo` as for one the API started.
 *
 * What `no-new-privileges` would still buy is stopping a process *already in the sandbox* from
 * climbing from `user` to root; since the sandbox's owner holds root through the API, that only
 * matters for code the owner deliberately runs as `user` to contain it, and such code should be
 * run in a separate sandbox (or `setpriv --no-new-privs` on the command itself), not relied on
 * a uid inside a shared one. `services/worker/src/docker/docker-backend.test.ts` checks the
 * bounds from inside: `sudo` as `user` gives root with CapEff and CapBnd equal to the list.
 */
export const SANDBOX_SECURITY_OPT: readonly string[] = [];

const MIB = 1024 * 1024;

/** The container name of a sandbox. */
export function containerName(sandboxId: string): string {
  return `aetherium-${sandboxId}`;
}

/**
 * Docker's network mode for an egress policy: none for `deny-all`, the shared bridge for
 * `allow-all`, and for an allow-list the internal egress bridge (see `docker-egress.ts`).
 */
export function networkModeFor(
  egress: EgressPolicy,
  network: string,
  egressNetwork: string,
): string {
  if (egress === "deny-all") return "none";
  if (egress === "allow-all") return network;
  return egressNetwork;
}

/** What the backend decided for one sandbox's container besides its spec. */
export interface ContainerPlan {
  /** The image to run (the spec's, or the backend's default). */
  readonly image: string;
  /** The sandbox's agent token; only this container's agent gets it. */
  readonly agentToken: string;
  /** Host directory bind-mounted at `/run/aetherium` for the agent socket. */
  readonly runDir: string;
  /** The shared bridge of `allow-all` sandboxes. */
  readonly network: string;
  /** The internal bridge of allow-list sandboxes. */
  readonly egressNetwork: string;
  /** Pids limit when the spec names none. */
  readonly defaultPidsLimit: number;
  /** Whether to ask the engine for the spec's `diskMb` (false where its storage cannot). */
  readonly diskLimit: boolean;
  /** The allow-list proxy's environment, labels and resolver, for an allow-list sandbox. */
  readonly egress?: {
    readonly env: Readonly<Record<string, string>>;
    readonly labels: Readonly<Record<string, string>>;
    readonly resolvConf: string;
  };
}

/**
 * The labels of a sandbox's container: the spec's, the egress attachment's, then the backend's
 * own, which neither can replace.
 */
export function containerLabels(
  spec: Pick<SandboxSpec, "sandboxId" | "workerId" | "labels">,
  egressLabels: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    ...spec.labels,
    ...egressLabels,
    [SANDBOX_LABELS.sandboxId]: spec.sandboxId,
    [SANDBOX_LABELS.workerId]: spec.workerId,
    [SANDBOX_LABELS.managed]: "true",
  };
}

/**
 * The create options of a sandbox's container. Every container is hardened the same way: CPU,
 * memory (no swap) and pids limits; all capabilities dropped but {@link SANDBOX_CAP_ADD}
 * (which bounds every process, setuid or not); Docker's default seccomp profile (never
 * `unconfined`), no `privileged`; setuid allowed (see {@link SANDBOX_SECURITY_OPT}); Docker's init
 * as PID 1 (it reaps zombies that an agent spawning shells
 * would otherwise pile up, and forwards signals); no Docker socket; no restart by the engine
 * (the worker decides what runs); the run directory as its only host mount, plus a read-only
 * resolver for an allow-list; the network its egress policy names.
 */
export function containerCreateOptions(
  spec: SandboxSpec,
  plan: ContainerPlan,
): Docker.ContainerCreateOptions {
  const memory = Math.round(spec.memoryMb * MIB);
  const egress = spec.egress ?? "allow-all";
  return {
    name: containerName(spec.sandboxId),
    // The sandbox id as its hostname, as QEMU guests have it.
    Hostname: spec.sandboxId,
    Image: plan.image,
    ...(spec.command === undefined ? {} : { Entrypoint: [...spec.command] }),
    // The proxy variables first: a sandbox's own env may add to them (a NO_PROXY of its
    // own), and anything it points elsewhere simply has no route.
    // The token last: the sandbox's env cannot replace it.
    Env: Object.entries({
      ...plan.egress?.env,
      ...spec.env,
      [AGENT_TOKEN_ENV]: plan.agentToken,
    }).map(([k, v]) => `${k}=${v}`),
    Labels: containerLabels(spec, plan.egress?.labels),
    HostConfig: {
      NanoCpus: Math.round(spec.vcpus * 1e9),
      Memory: memory,
      MemorySwap: memory, // equal to Memory: no swap at all
      PidsLimit: spec.pidsLimit ?? plan.defaultPidsLimit,
      SecurityOpt: [...SANDBOX_SECURITY_OPT],
      CapDrop: ["ALL"],
      CapAdd: [...SANDBOX_CAP_ADD],
      Init: true,
      ReadonlyRootfs: false,
      NetworkMode: networkModeFor(egress, plan.network, plan.egressNetwork),
      // On a network Docker lists the hostname in /etc/hosts itself; without one it does not,
      // and `sudo` (which resolves its own host) then warns on every call.
      ...(egress === "deny-all" ? { ExtraHosts: [`${spec.sandboxId}:127.0.1.1`] } : {}),
      Mounts: [
        { Type: "bind", Source: plan.runDir, Target: IMAGE_PATHS.runDir, ReadOnly: false },
        ...(plan.egress
          ? [
              {
                Type: "bind" as const,
                Source: plan.egress.resolvConf,
                Target: "/etc/resolv.conf",
                ReadOnly: true,
              },
            ]
          : []),
      ],
      RestartPolicy: { Name: "no" },
      ...(spec.diskMb !== undefined && plan.diskLimit
        ? { StorageOpt: { size: `${spec.diskMb}M` } }
        : {}),
    },
  };
}
