/**
 * Networking of microVM sandboxes (Firecracker and QEMU alike): a host bridge with the first
 * address of a configured subnet, one TAP per VM on it, addresses leased in the database (so
 * every worker process on the host and every restart agrees on who has which), NAT out of the
 * host's default route, and the sandbox's egress policy enforced on the host:
 *
 * - `allow-all`: out of the uplink, NATed; the host (but the egress proxy's port and the VM
 *   resolver, `vm-dns.ts`, on the bridge address) and the other sandboxes refused. Its guest's
 *   `nameserver` is the bridge address.
 * - `deny-all`: the TAP exists (the VMM's configuration is the same for every policy) but is on
 *   no bridge, answers no ARP and the host drops everything that comes in on it.
 * - `{allow: [...]}`: no forwarding at all; the only thing the VM reaches is the shared egress
 *   proxy on the bridge address, which identifies it by its (pinned) address and checks each
 *   destination against its list. Its guest gets the proxy's URL; a guest ignoring it has no route.
 *
 * See `vm-firewall.ts` for the rules.
 * @module
 */
import type { Logger } from "@aetherium/common";
import {
  numberToIpv4,
  parseIpv4Subnet,
  type Ipv4Subnet,
  type VmNetworkLeaseRepository,
  type VmNetworkLeaseRow,
} from "@aetherium/core";
import type { EgressPolicy } from "@aetherium/types";
import { compileAddressSet, compileAllowList } from "../network/egress-allow-list.js";
import { EgressProxy, listenOrRetry, type EgressIdentity } from "../network/egress-proxy.js";
import { restrictBridgeToProxy, unrestrictBridge } from "../network/host-firewall.js";
import { mustRun, runCommand } from "./host-command.js";
import {
  kernelIpArgument,
  macFor,
  netmaskOf,
  tapNameFor,
  type NetworkAttachment,
} from "./network-attachment.js";
import { VmDnsServer } from "./vm-dns.js";
import {
  allowBridgeDns,
  allowVmEgress,
  disallowBridgeDns,
  installBridgeRules,
  pinTapSource,
  removeBridgeRules,
  revokeVmEgress,
  unpinTap,
} from "./vm-firewall.js";

/** Options of {@link VmNetwork}. */
export interface VmNetworkOptions {
  /** Bridge (interface) name, at most 15 characters. */
  readonly bridge: string;
  /** IPv4 subnet in CIDR form; the bridge gets its first host address. */
  readonly subnet: string;
  readonly leases: VmNetworkLeaseRepository;
  /** The worker whose VMs these are (leases record it; reconcile touches only its own). */
  readonly workerId: string;
  /** Port of the egress proxy on the bridge address. */
  readonly proxyPort: number;
  /** Interface NAT sends VM traffic out of; default the default route's. */
  readonly uplink?: string;
  /** Name resolution of the egress proxy (tests point names at hosts they made). */
  readonly lookup?: (host: string) => Promise<string[]>;
  /**
   * Makes the VM's host-side link named `tap`; default a persistent TAP (`ip tuntap add … mode
   * tap`) for the VMM to open. Tests make a veth whose peer sits in a network namespace instead.
   */
  readonly createLink?: (tap: string) => Promise<void>;
  readonly logger?: Logger;
}

/** Alias every TAP carries (`ip link … alias`): which bridge and sandbox it is for. */
function aliasOf(bridge: string, sandboxId: string): string {
  return `aetherium-vm:${bridge}:${sandboxId}`;
}

const defaultCreateLink = async (tap: string): Promise<void> => {
  await mustRun("ip", ["tuntap", "add", "dev", tap, "mode", "tap"]);
};

/** The interface of the host's IPv4 default route, if it has one. */
export async function defaultRouteInterface(): Promise<string | undefined> {
  const r = await runCommand("ip", ["-j", "-4", "route", "show", "default"]);
  if (!r.ok) return undefined;
  try {
    const routes = JSON.parse(r.stdout || "[]") as { dev?: string }[];
    return routes.find((x) => x.dev)?.dev;
  } catch {
    return undefined;
  }
}

async function linkExists(name: string): Promise<boolean> {
  return (await runCommand("ip", ["link", "show", "dev", name])).ok;
}

/** See the module comment. One per worker process and bridge; nothing happens until first use. */
export class VmNetwork {
  readonly #o: VmNetworkOptions;
  readonly #subnet: Ipv4Subnet;
  #ready: Promise<void> | undefined;
  #uplink: string | undefined;
  #proxy: EgressProxy | undefined;
  #retry: NodeJS.Timeout | undefined;
  #dns: VmDnsServer | undefined;
  #dnsRetry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: VmNetworkOptions) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(options.bridge)) {
      throw new Error(`${options.bridge} is not an interface name (1-15 characters)`);
    }
    this.#o = options;
    this.#subnet = parseIpv4Subnet(options.subnet);
  }

  /** The bridge name. */
  get bridge(): string {
    return this.#o.bridge;
  }

  /** The subnet, canonical (`10.213.0.0/20`). */
  get subnet(): string {
    return this.#subnet.cidr;
  }

  /** The bridge's (and the VMs' gateway's) address. */
  get gateway(): string {
    return numberToIpv4(this.#subnet.gateway);
  }

  /**
   * Bridge, rules and this process's egress proxy (or its stand-by) in place. Once per process;
   * a failure lets the next call try again. Throws when the host cannot be set up (no root, no
   * iptables): no VM is attached to a network whose policy is not enforced.
   */
  ready(): Promise<void> {
    this.#ready ??= this.#prepare().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  async #prepare(): Promise<void> {
    const { bridge } = this.#o;
    if (!(await linkExists(bridge))) {
      const made = await runCommand("ip", ["link", "add", bridge, "type", "bridge"]);
      if (!made.ok && !(await linkExists(bridge))) {
        throw new Error(`cannot create the VM bridge ${bridge}: ${made.stderr}`);
      }
    }
    const address = `${this.gateway}/${this.#subnet.prefix}`;
    const addrs = await mustRun("ip", ["-4", "-o", "addr", "show", "dev", bridge]);
    if (!addrs.includes(` ${address} `)) {
      const added = await runCommand("ip", ["addr", "add", address, "dev", bridge]);
      if (!added.ok && !/exists/i.test(added.stderr)) {
        throw new Error(`cannot address the VM bridge ${bridge}: ${added.stderr}`);
      }
    }
    // No IPv6 on the bridge: VMs get none, and a link-local address is a way to the host.
    await runCommand("sysctl", ["-qw", `net.ipv6.conf.${bridge}.disable_ipv6=1`]);
    await mustRun("ip", ["link", "set", "dev", bridge, "up"]);
    await mustRun("sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
    this.#uplink = this.#o.uplink ?? (await defaultRouteInterface());
    if (this.#uplink === undefined) {
      this.#o.logger?.warn({ bridge }, "no default route: allow-all VMs have no way out");
    }
    await restrictBridgeToProxy(bridge, this.#o.proxyPort);
    await allowBridgeDns(bridge, this.gateway);
    await installBridgeRules(bridge, this.#subnet.cidr, this.#uplink);
    await this.#startProxy();
    await this.#startDns();
  }

  async #startDns(): Promise<void> {
    const listen = async (): Promise<boolean> => {
      if (this.#closed || this.#dns) return true;
      const dns = new VmDnsServer({
        allowed: async (address) =>
          (await this.#o.leases.findByIp(this.#subnet.cidr, address))?.egress === "allow-all",
        ...(this.#o.lookup ? { lookup: this.#o.lookup } : {}),
        ...(this.#o.logger ? { logger: this.#o.logger } : {}),
      });
      try {
        await dns.listen(this.gateway, 53);
        this.#dns = dns;
        return true;
      } catch (err) {
        // Another worker process on this host serves the bridge; take over if it goes away.
        if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") return false;
        throw err;
      }
    };
    this.#dnsRetry = await listenOrRetry(listen, {
      retry: this.#dnsRetry,
      onError: (err) => this.#o.logger?.warn({ err }, "VM resolver listen failed"),
    });
  }

  async #startProxy(): Promise<void> {
    const listen = async (): Promise<boolean> => {
      if (this.#closed || this.#proxy) return true;
      const proxy = new EgressProxy({
        identify: (address) => this.#identify(address),
        sandboxNetworks: () => Promise.resolve(compileAddressSet([this.#subnet.cidr])),
        ...(this.#o.lookup ? { lookup: this.#o.lookup } : {}),
        ...(this.#o.logger ? { logger: this.#o.logger } : {}),
      });
      try {
        await proxy.listen(this.gateway, this.#o.proxyPort);
        this.#proxy = proxy;
        return true;
      } catch (err) {
        // Another worker process on this host serves the bridge; take over if it goes away.
        if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") return false;
        throw err;
      }
    };
    this.#retry = await listenOrRetry(listen, {
      retry: this.#retry,
      onError: (err) => this.#o.logger?.warn({ err }, "VM egress proxy listen failed"),
    });
  }

  async #identify(address: string): Promise<EgressIdentity | undefined> {
    const ip = address.replace(/^::ffff:/i, "");
    const lease = await this.#o.leases.findByIp(this.#subnet.cidr, ip);
    const egress = lease?.egress as EgressPolicy | undefined;
    if (lease === undefined || egress === undefined || typeof egress === "string") return undefined;
    return { sandboxId: lease.sandboxId, allow: compileAllowList(egress.allow) };
  }

  /**
   * Leases an address to `sandboxId`, makes its TAP and enforces `egress` for it; what its VMM
   * and kernel command line need comes back. A sandbox that has a TAP already gets a fresh one
   * (a retried create) and keeps its address. On failure, whatever was made is removed again.
   */
  async attach(sandboxId: string, egress: EgressPolicy = "allow-all"): Promise<NetworkAttachment> {
    await this.ready();
    const { bridge } = this.#o;
    const tap = tapNameFor(bridge, sandboxId);
    const mac = macFor(sandboxId);
    const lease = await this.#o.leases.allocate({
      subnet: this.#subnet.cidr,
      sandboxId,
      workerId: this.#o.workerId,
      tap,
      mac,
      egress,
    });
    try {
      await this.#removeLink(tap);
      await (this.#o.createLink ?? defaultCreateLink)(tap);
      await mustRun("ip", ["link", "set", "dev", tap, "alias", aliasOf(bridge, sandboxId)]);
      await runCommand("sysctl", ["-qw", `net.ipv6.conf.${tap}.disable_ipv6=1`]);
      if (egress === "deny-all") {
        await mustRun("ip", ["link", "set", "dev", tap, "arp", "off"]);
      } else {
        await pinTapSource(tap, mac, lease.ip);
        await mustRun("ip", ["link", "set", "dev", tap, "master", bridge]);
        await mustRun("bridge", ["link", "set", "dev", tap, "isolated", "on"]);
        if (egress === "allow-all" && this.#uplink !== undefined) {
          await allowVmEgress(bridge, lease.ip, this.#uplink);
        }
      }
      await mustRun("ip", ["link", "set", "dev", tap, "up"]);
    } catch (err) {
      await this.detach(sandboxId).catch(() => {});
      throw err;
    }
    return this.#attachmentOf(lease, egress);
  }

  #attachmentOf(lease: VmNetworkLeaseRow, egress: EgressPolicy): NetworkAttachment {
    const { prefix } = this.#subnet;
    return {
      tap: lease.tap,
      mac: lease.mac,
      guestIp: lease.ip,
      gateway: this.gateway,
      prefix,
      netmask: netmaskOf(prefix),
      kernelIpArg: kernelIpArgument(
        lease.ip,
        this.gateway,
        prefix,
        egress === "allow-all" ? this.gateway : undefined,
      ),
      ...(egress === "allow-all" ? { dns: this.gateway } : {}),
      ...(typeof egress === "object"
        ? { proxyUrl: `http://${this.gateway}:${this.#o.proxyPort}` }
        : {}),
    };
  }

  async #removeLink(tap: string): Promise<void> {
    await unpinTap(tap);
    if (await linkExists(tap)) {
      const r = await runCommand("ip", ["link", "del", "dev", tap]);
      if (!r.ok && (await linkExists(tap))) throw new Error(`cannot remove ${tap}: ${r.stderr}`);
    }
  }

  /** Removes `sandboxId`'s TAP and rules and frees its address; succeeds when already gone. */
  async detach(sandboxId: string): Promise<void> {
    const tap = tapNameFor(this.#o.bridge, sandboxId);
    const lease = await this.#o.leases.get(this.#subnet.cidr, sandboxId);
    if (lease) await revokeVmEgress(this.#o.bridge, { ip: lease.ip });
    await this.#removeLink(tap);
    await this.#o.leases.release(this.#subnet.cidr, sandboxId);
  }

  /**
   * Removes what VMs that no longer exist left behind: this worker's leases (with their TAPs and
   * rules) of sandboxes not in `live`, TAPs of this bridge whose sandbox has no lease (whichever
   * worker made them), and forwarding rules of addresses nobody leases. Returns the sandbox ids
   * cleaned up.
   */
  async reconcile(live: Iterable<string>): Promise<string[]> {
    const keep = new Set(live);
    const cleaned = new Set<string>();
    for (const lease of await this.#o.leases.list(this.#subnet.cidr, {
      workerId: this.#o.workerId,
    })) {
      if (keep.has(lease.sandboxId)) continue;
      await this.detach(lease.sandboxId);
      cleaned.add(lease.sandboxId);
    }
    const leased = await this.#o.leases.list(this.#subnet.cidr);
    const leasedIds = new Set(leased.map((l) => l.sandboxId));
    const prefix = aliasOf(this.#o.bridge, "");
    const links = await runCommand("ip", ["-j", "link", "show"]);
    const parsed = links.ok
      ? (JSON.parse(links.stdout || "[]") as { ifname?: string; ifalias?: string }[])
      : [];
    for (const link of parsed) {
      if (!link.ifname || !link.ifalias?.startsWith(prefix)) continue;
      const sandboxId = link.ifalias.slice(prefix.length);
      if (leasedIds.has(sandboxId)) continue;
      await this.#removeLink(link.ifname);
      cleaned.add(sandboxId);
    }
    await revokeVmEgress(this.#o.bridge, { keep: new Set(leased.map((l) => l.ip)) });
    return [...cleaned];
  }

  /** Stops this process's egress proxy (bridge, rules and TAPs stay for restarts and others). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearInterval(this.#retry);
    if (this.#dnsRetry) clearInterval(this.#dnsRetry);
    await this.#proxy?.close();
    this.#proxy = undefined;
    await this.#dns?.close();
    this.#dns = undefined;
  }

  /** Removes the bridge and its rules (tests); TAPs must have been detached first. */
  async remove(): Promise<void> {
    await this.close();
    await disallowBridgeDns(this.#o.bridge, this.gateway);
    await unrestrictBridge(this.#o.bridge, this.#o.proxyPort);
    await removeBridgeRules(this.#o.bridge, this.#subnet.cidr, this.#uplink);
    if (await linkExists(this.#o.bridge))
      await mustRun("ip", ["link", "del", "dev", this.#o.bridge]);
    this.#ready = undefined;
  }
}
