import { createHash } from "node:crypto";

/**
 * How a microVM is plugged into the host's VM network, for its VMM (Firecracker's
 * `network-interfaces`, QEMU's `-netdev tap`) and its kernel command line.
 */
export interface NetworkAttachment {
  /** Host TAP device the VMM opens (`ip tuntap … mode tap`, made by the network). */
  readonly tap: string;
  /** Guest MAC: locally administered, derived from the sandbox id. */
  readonly mac: string;
  /** The guest's address. */
  readonly guestIp: string;
  /** The host's address on the bridge: the guest's default route. */
  readonly gateway: string;
  /** Prefix length of the subnet (`24`). */
  readonly prefix: number;
  /** Dotted netmask of the subnet (`255.255.255.0`). */
  readonly netmask: string;
  /**
   * The kernel's `ip=` argument configuring `eth0` statically at boot
   * (`ip=<guest>::<gateway>:<netmask>::eth0:off`), for the VM's command line.
   */
  readonly kernelIpArg: string;
  /**
   * The guest's resolver (the bridge address, see `vm-dns.ts`), for `allow-all` VMs; absent for
   * the others, which resolve no names themselves.
   */
  readonly dns?: string;
  /**
   * With an allow-list: the egress proxy's URL, for the guest's `HTTP(S)_PROXY` (the only way
   * out it has). Absent otherwise.
   */
  readonly proxyUrl?: string;
}

/** The guest's interface name the kernel argument configures. */
export const GUEST_INTERFACE = "eth0";

/** Prefix of every VM TAP name; the host drops whatever reaches it from an unbridged one. */
export const TAP_PREFIX = "aev";

/**
 * The TAP name of `sandboxId` on `bridge`: {@link TAP_PREFIX} and 12 hex digits of a hash of
 * both (interface names hold 15 characters, sandbox ids many more), so two bridges never share
 * one.
 */
export function tapNameFor(bridge: string, sandboxId: string): string {
  const hash = createHash("sha256").update(`${bridge}\0${sandboxId}`).digest("hex");
  return `${TAP_PREFIX}${hash.slice(0, 12)}`;
}

/**
 * The guest MAC of `sandboxId`: `02:` (locally administered, unicast) and five bytes of a hash of
 * the id, so it is stable across restarts and clashes only by chance of 1 in 2^40.
 */
export function macFor(sandboxId: string): string {
  const hash = createHash("sha256").update(sandboxId).digest();
  return ["02", ...[...hash.subarray(0, 5)].map((b) => b.toString(16).padStart(2, "0"))].join(":");
}

/** `24` → `255.255.255.0`. */
export function netmaskOf(prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (mask >>> s) & 255).join(".");
}

/**
 * The kernel's `ip=` argument (see the kernel's nfsroot documentation: client, server, gateway,
 * netmask, hostname, device, autoconf, first DNS server) for a static `eth0`.
 */
export function kernelIpArgument(
  guestIp: string,
  gateway: string,
  prefix: number,
  dns?: string,
): string {
  const base = `ip=${guestIp}::${gateway}:${netmaskOf(prefix)}::${GUEST_INTERFACE}:off`;
  return dns === undefined ? base : `${base}:${dns}`;
}
