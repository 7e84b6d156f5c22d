/**
 * What an egress allow-list permits, decided without touching the network: names are matched as
 * written, addresses against IPs and CIDR ranges. Some addresses are never reachable whatever a
 * list says (the host's loopback and its own interface addresses, link-local and metadata ranges,
 * multicast): a sandbox that could name them would reach the worker's own services.
 * @module
 */
import { BlockList, isIP } from "node:net";
import { networkInterfaces } from "node:os";

/** A compiled allow-list: {@link compileAllowList}. */
export interface AllowList {
  /** The entries as given, for messages and labels. */
  readonly entries: readonly string[];
  /** True when `host` (a DNS name, lowercased or not) is allowed by a domain entry. */
  allowsName(host: string): boolean;
  /** True when the literal address `ip` is allowed by an IP or CIDR entry. */
  allowsAddress(ip: string): boolean;
}

function family(ip: string): "ipv4" | "ipv6" {
  return isIP(ip) === 6 ? "ipv6" : "ipv4";
}

/** `::ffff:10.0.0.1` → `10.0.0.1`: an IPv4-mapped address is checked as the IPv4 it is. */
export function unmapAddress(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m?.[1] ?? ip;
}

/**
 * Compiles allow-list entries (already validated by `egressTargetSchema`): `example.com` allows
 * exactly that name, `*.example.com` any name below it (not `example.com` itself, as with TLS
 * wildcards), an IP that address, a CIDR its range. Names are compared case-insensitively and
 * without a trailing dot.
 */
export function compileAllowList(entries: readonly string[]): AllowList {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  const addresses = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    const slash = entry.indexOf("/");
    if (slash > 0 && isIP(entry.slice(0, slash)) !== 0) {
      const base = entry.slice(0, slash);
      addresses.addSubnet(base, Number(entry.slice(slash + 1)), family(base));
    } else if (isIP(entry) !== 0) {
      addresses.addAddress(entry, family(entry));
    } else if (entry.startsWith("*.")) {
      suffixes.push(entry.slice(1)); // ".example.com"
    } else {
      exact.add(entry.replace(/\.$/, ""));
    }
  }
  return {
    entries: [...entries],
    allowsName(host) {
      const name = host.toLowerCase().replace(/\.$/, "");
      if (isIP(name) !== 0) return false;
      return exact.has(name) || suffixes.some((s) => name.endsWith(s) && name.length > s.length);
    },
    allowsAddress(ip) {
      const a = unmapAddress(ip);
      if (isIP(a) === 0) return false;
      return addresses.check(a, family(a));
    },
  };
}

/** Ranges no sandbox may reach through the egress proxy, allow-list or not. */
const ALWAYS_REFUSED: readonly (readonly [string, number, "ipv4" | "ipv6"])[] = [
  ["0.0.0.0", 8, "ipv4"], // "this host"
  ["127.0.0.0", 8, "ipv4"], // loopback: the worker's own API, Postgres, Redis
  ["169.254.0.0", 16, "ipv4"], // link-local, cloud metadata (169.254.169.254)
  ["224.0.0.0", 4, "ipv4"], // multicast
  ["255.255.255.255", 32, "ipv4"],
  ["::", 128, "ipv6"],
  ["::1", 128, "ipv6"],
  ["fe80::", 10, "ipv6"],
  ["ff00::", 8, "ipv6"],
];

const ALWAYS_REFUSED_LIST = new BlockList();
for (const [base, prefix, f] of ALWAYS_REFUSED) ALWAYS_REFUSED_LIST.addSubnet(base, prefix, f);

/**
 * Addresses the proxy refuses to connect to: the {@link ALWAYS_REFUSED} ranges plus every address
 * of this host's interfaces (read when called, so a bridge added later is covered), since a
 * service listening on all interfaces would otherwise be reachable through the bridge address.
 */
export function isRefusedAddress(ip: string): boolean {
  const a = unmapAddress(ip);
  if (ALWAYS_REFUSED_LIST.check(a, family(a))) return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) {
      if (unmapAddress(addr.address).toLowerCase() === a.toLowerCase()) return true;
    }
  }
  return false;
}
