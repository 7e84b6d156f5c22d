/**
 * What an egress allow-list permits, decided without touching the network: names are matched as
 * written, addresses against IPs and CIDR ranges. Some addresses are never reachable whatever a
 * list says (the host's loopback and its own interface addresses, link-local and metadata ranges,
 * multicast, and the sandbox networks the backend names): a sandbox that could name them would
 * reach the worker's own services or another sandbox. Addresses are compared as addresses, never
 * as text: `::ffff:ac12:1`, `::ffff:172.18.0.1` and `172.18.0.1` are one address.
 * @module
 */
import { BlockList, isIP } from "node:net";
import { readFileSync } from "node:fs";
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

/** The 16 bytes of a valid IPv6 literal without a zone (`isIP(ip) === 6` checked by the caller). */
function ipv6Bytes(ip: string): number[] {
  let text = ip;
  let tail: number[] = [];
  // A trailing dotted quad (`::ffff:1.2.3.4`) is the last two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    tail = quad.slice(1, 5).map(Number);
    text = `${text.slice(0, quad.index)}0:0`;
  }
  const [head = "", rest] = text.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const all = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  if (quad) bytes.splice(12, 4, ...tail);
  return bytes;
}

function formatIpv6(bytes: readonly number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(":");
}

const isZero = (bytes: readonly number[], from: number, to: number) =>
  bytes.slice(from, to).every((b) => b === 0);

/**
 * The one canonical form of an address, so that every check sees the address a connection would
 * really go to: IPv4 dotted for IPv4 and for IPv6 forms that carry an IPv4 the kernel would use
 * (`::ffff:a.b.c.d` and `::ffff:hhhh:hhhh` mapped, `::ffff:0:a.b.c.d` translated, `::a.b.c.d`
 * compatible), IPv6 as eight lowercase hex groups otherwise. Brackets are dropped. Undefined for
 * anything that is not an address, and for scoped (`%zone`) ones, which only name link-local
 * neighbours.
 */
export function normalizeAddress(ip: string): string | undefined {
  const text = ip.trim().replace(/^\[(.*)\]$/, "$1");
  if (isIP(text) === 4) return text;
  if (isIP(text) !== 6 || text.includes("%")) return undefined;
  const b = ipv6Bytes(text.toLowerCase());
  const v4 = () => b.slice(12, 16).join(".");
  if (isZero(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(); // mapped
  if (isZero(b, 0, 8) && b[8] === 0xff && b[9] === 0xff && isZero(b, 10, 12)) return v4();
  if (isZero(b, 0, 12) && !isZero(b, 12, 15)) return v4(); // compatible (not :: nor ::1)
  return formatIpv6(b);
}

/**
 * The IPv4 an IPv6 address hands to a translator elsewhere (NAT64 `64:ff9b::/96`, 6to4
 * `2002::/16`), if any: such an address is refused when its IPv4 is.
 */
function embeddedIpv4(ip: string): string | undefined {
  if (isIP(ip) !== 6) return undefined;
  const b = ipv6Bytes(ip);
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && isZero(b, 4, 12)) {
    return b.slice(12, 16).join(".");
  }
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6).join(".");
  return undefined;
}

/** {@link normalizeAddress}, or `ip` as given when it is no address (for map keys and messages). */
export function unmapAddress(ip: string): string {
  return normalizeAddress(ip) ?? ip;
}

/** A set of addresses and CIDR ranges, IPv4 and IPv6: {@link compileAddressSet}. */
export interface AddressSet {
  /** True when `ip` (any notation {@link normalizeAddress} reads) is in the set. */
  has(ip: string): boolean;
}

/** Compiles addresses and CIDRs (`10.0.0.0/8`, `fd00::/64`, `192.0.2.1`) into an {@link AddressSet}; invalid entries are skipped. */
export function compileAddressSet(entries: Iterable<string>): AddressSet {
  const list = new BlockList();
  for (const raw of entries) {
    const [base = "", prefix] = raw.trim().toLowerCase().split("/");
    const a = normalizeAddress(base);
    if (a === undefined) continue;
    const f = family(a);
    if (prefix === undefined) {
      list.addAddress(a, f);
      continue;
    }
    let bits = Number(prefix);
    // A mapped base (`::ffff:10.0.0.0/104`) is the IPv4 range it covers.
    if (f === "ipv4" && isIP(base) === 6) bits -= 96;
    if (!Number.isInteger(bits) || bits < 0 || bits > (f === "ipv4" ? 32 : 128)) continue;
    list.addSubnet(a, bits, f);
  }
  return {
    has(ip) {
      const a = normalizeAddress(ip);
      return a !== undefined && list.check(a, family(a));
    },
  };
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
  const ranges: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    const slash = entry.indexOf("/");
    if ((slash > 0 && isIP(entry.slice(0, slash)) !== 0) || isIP(entry) !== 0) {
      ranges.push(entry);
    } else if (entry.startsWith("*.")) {
      suffixes.push(entry.slice(1)); // ".example.com"
    } else {
      exact.add(entry.replace(/\.$/, ""));
    }
  }
  const addresses = compileAddressSet(ranges);
  return {
    entries: [...entries],
    allowsName(host) {
      const name = host.toLowerCase().replace(/\.$/, "");
      if (isIP(name) !== 0) return false;
      return exact.has(name) || suffixes.some((s) => name.endsWith(s) && name.length > s.length);
    },
    allowsAddress(ip) {
      return addresses.has(ip);
    },
  };
}

/** Ranges no sandbox may reach through the egress proxy, allow-list or not. */
const ALWAYS_REFUSED = compileAddressSet([
  "0.0.0.0/8", // "this host"
  "127.0.0.0/8", // loopback: the worker's own API, Postgres, Redis
  "169.254.0.0/16", // link-local, cloud metadata (169.254.169.254)
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, and the limited broadcast 255.255.255.255
  "::/128",
  "::1/128",
  "fe80::/10",
  "ff00::/8",
]);

/** How long a reading of the host's addresses is used before it is read again. */
const HOST_ADDRESSES_TTL_MS = 1000;
let hostAddresses: { at: number; set: AddressSet } | undefined;

/**
 * Every address this host answers on, whatever the state of the interface it sits on. The kernel's
 * local routing table (`/proc/net/fib_trie`, entries of type LOCAL) holds each IPv4 address it
 * delivers locally, including those of bridges without carrier (Docker's `docker0` with no
 * container, which `os.networkInterfaces()` leaves out); `/proc/net/if_inet6` holds every IPv6
 * address of every interface, up or down. `os.networkInterfaces()` is added for hosts without
 * `/proc`.
 */
export function readHostAddresses(): string[] {
  const found = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) found.add(a.address);
  }
  try {
    let base: string | undefined;
    for (const line of readFileSync("/proc/net/fib_trie", "utf8").split("\n")) {
      const node = /^[\s|+-]*-- (\d+\.\d+\.\d+\.\d+)/.exec(line);
      if (node) {
        base = node[1];
        continue;
      }
      const leaf = /^\s*\/(\d+) \w+ LOCAL\b/.exec(line);
      if (leaf && base !== undefined) found.add(`${base}/${leaf[1]}`);
    }
  } catch {
    // No procfs: the interfaces above are what we have.
  }
  try {
    for (const line of readFileSync("/proc/net/if_inet6", "utf8").split("\n")) {
      const hex = line.trim().split(/\s+/)[0] ?? "";
      if (/^[0-9a-f]{32}$/i.test(hex)) found.add(hex.match(/.{4}/g)?.join(":") ?? "");
    }
  } catch {
    // As above.
  }
  found.delete("");
  return [...found];
}

function ownAddresses(): AddressSet {
  const now = Date.now();
  if (hostAddresses === undefined || now - hostAddresses.at > HOST_ADDRESSES_TTL_MS) {
    hostAddresses = { at: now, set: compileAddressSet(readHostAddresses()) };
  }
  return hostAddresses.set;
}

/**
 * Whether the proxy must refuse to connect to `ip`: anything that is not a plain address, the
 * {@link ALWAYS_REFUSED} ranges, every address of this host (see {@link readHostAddresses}; read
 * again at most every second, so a bridge added later is covered), `also` (the backend's sandbox
 * networks), and translator addresses whose embedded IPv4 is any of these. Every notation of one
 * address gets the same answer.
 */
export function isRefusedAddress(ip: string, also?: AddressSet): boolean {
  const a = normalizeAddress(ip);
  if (a === undefined) return true;
  const refused = (x: string) =>
    ALWAYS_REFUSED.has(x) || ownAddresses().has(x) || also?.has(x) === true;
  if (refused(a)) return true;
  const inner = embeddedIpv4(a);
  return inner !== undefined && refused(inner);
}
