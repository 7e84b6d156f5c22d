/**
 * The config disk: how a microVM guest gets its per-sandbox settings (the agent token, hostname,
 * environment and process limit) under either VMM. A small raw disk of shell assignments, read
 * by the guest's init as root (`load_config` in `guest-init.ts`) into the agent's environment and
 * nowhere else: not the kernel command line (any guest user reads `/proc/cmdline`), not a file
 * left in the guest. The host keeps it in the VM's 0700 directory, mode 0600.
 * @module
 */
import { BadRequestError, shellQuote } from "@aetherium/common";

/** What the guest's init reads from the config disk. */
export interface GuestConfig {
  /** The secret the agent asks every host connection for (`agent.auth`). */
  readonly token: string;
  readonly hostname: string;
  /** The sandbox's environment (names already checked by the backend). */
  readonly env: Readonly<Record<string, string>>;
  /** `pids.max` of the cgroup the agent and everything it starts run in. */
  readonly pidsLimit: number;
}

/** Largest config disk the guest's init reads. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * The config disk's bytes: one assignment per line, NUL-padded to a whole number of 512-byte
 * sectors (a block device's size), which the init strips. The process limit comes last, so the
 * sandbox's own environment cannot lift it. Too large for the init to read: a 400.
 */
export function guestConfigDisk(config: GuestConfig): Buffer {
  const lines = [
    `AETHERIUM_AGENT_TOKEN=${shellQuote(config.token)}`,
    `AETHERIUM_HOSTNAME=${shellQuote(config.hostname.slice(0, 63))}`,
    ...Object.entries(config.env).map(([k, v]) => `${k}=${shellQuote(v)}`),
    `AETHERIUM_PIDS_LIMIT=${Math.max(1, Math.round(config.pidsLimit))}`,
  ];
  const text = Buffer.from(`${lines.join("\n")}\n`);
  if (text.length > MAX_CONFIG_BYTES) throw new BadRequestError("sandbox environment is too large");
  const disk = Buffer.alloc(Math.ceil((text.length + 1) / 512) * 512);
  text.copy(disk);
  return disk;
}
