/**
 * The host rules of a VM bridge. Three layers, each covering what the one above cannot see:
 *
 * - Bridge filter (ebtables), per TAP: a frame from a VM must carry its own MAC and, for IPv4
 *   and ARP, its own leased address; IPv6 is dropped (VMs get none). With sources pinned, every
 *   IP-level rule below may key a VM by its address, and the egress proxy may trust a source
 *   address to name its sandbox.
 * - Forwarding (iptables), one chain per bridge, `AETHVF-<bridge>`, jumped to from the top of
 *   FORWARD for traffic in or out of the bridge: replies to VMs accepted, one ACCEPT per
 *   `allow-all` VM out of the uplink (the default route's interface, NATed), DROP for everything
 *   else: VMs to each other, to other sandbox networks, and `allow-list` VMs to anything.
 * - Unbridged TAPs (`deny-all` VMs) reach nothing: INPUT and FORWARD send whatever comes in on
 *   an interface named `aev+` to the shared chain `AETHV-UNBRIDGED`, which drops it. The match is
 *   by name, and a bridge may be named `aev…` too: traffic of a bridged TAP arrives in iptables
 *   as the bridge's (with or without `br_netfilter`), so such a bridge would lose its host and
 *   forwarding rules to a drop that sits above them. Each VM bridge therefore has a RETURN at
 *   the top of that chain and its traffic goes on to the rules of its own. IPv6 has no
 *   exemption: VMs get none, so ip6tables drops everything from an `aev+` interface outright.
 *
 * The host itself (INPUT from the bridge) is the shared `host-firewall.ts` chain: only the egress
 * proxy's port, and UDP 53 on the bridge address (the VM resolver, which answers `allow-all`
 * VMs only). Every step checks before it adds, so it is safe to run again and from several
 * worker processes.
 * @module
 */
import { chainOf } from "../network/host-firewall.js";
import { TAP_PREFIX } from "./network-attachment.js";
import { mustRun, runCommand } from "./host-command.js";

type Tables = "iptables" | "ip6tables";

/** The chain the host's INPUT and FORWARD send traffic from `aev+` interfaces to (IPv4). */
const UNBRIDGED_CHAIN = "AETHV-UNBRIDGED";

/** The forwarding chain of `bridge`. */
export function forwardChainOf(bridge: string): string {
  return `AETHVF-${bridge}`;
}

async function ensureRule(tables: Tables, rule: readonly string[], insertAt?: string) {
  if ((await runCommand(tables, ["-C", ...rule])).ok) return;
  const [chain, ...rest] = rule;
  if (chain === undefined) return;
  await mustRun(
    tables,
    insertAt === undefined ? ["-A", chain, ...rest] : ["-I", chain, insertAt, ...rest],
  );
}

async function deleteRule(tables: Tables, rule: readonly string[]): Promise<void> {
  for (let i = 0; i < 16; i++) if (!(await runCommand(tables, ["-D", ...rule])).ok) return;
}

async function ensureChain(tables: Tables, chain: string): Promise<void> {
  if ((await runCommand(tables, ["-n", "-L", chain])).ok) return;
  const made = await runCommand(tables, ["-N", chain]);
  if (!made.ok && !(await runCommand(tables, ["-n", "-L", chain])).ok) {
    throw new Error(`cannot create chain ${chain}: ${made.stderr}`);
  }
}

const ESTABLISHED = ["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"];

/**
 * Installs the bridge-wide rules: the forwarding chain and its jumps, NAT of the subnet out of
 * `uplink` (none: no default route, so `allow-all` VMs have no way out either), and the drop of
 * unbridged TAPs. Throws when a rule cannot be installed: a VM must not start on a network whose
 * policy is not enforced.
 */
export async function installBridgeRules(
  bridge: string,
  subnet: string,
  uplink: string | undefined,
): Promise<void> {
  const chain = forwardChainOf(bridge);
  await ensureChain("iptables", chain);
  await ensureRule("iptables", [chain, "-o", bridge, ...ESTABLISHED], "1");
  await ensureRule("iptables", [chain, "-j", "DROP"]);
  await ensureRule("iptables", ["FORWARD", "-i", bridge, "-j", chain], "1");
  await ensureRule("iptables", ["FORWARD", "-o", bridge, "-j", chain], "1");
  if (uplink !== undefined) {
    await ensureRule("iptables", [
      "POSTROUTING",
      "-t",
      "nat",
      "-s",
      subnet,
      "-o",
      uplink,
      "-j",
      "MASQUERADE",
    ]);
  }
  await ensureChain("iptables", UNBRIDGED_CHAIN);
  await ensureRule("iptables", [UNBRIDGED_CHAIN, "-i", bridge, "-j", "RETURN"], "1");
  await ensureRule("iptables", [UNBRIDGED_CHAIN, "-j", "DROP"]);
  for (const hook of ["INPUT", "FORWARD"]) {
    // A plain IPv4 drop of `aev+` would shadow the bridges' exemptions: only the chain may hold it.
    await deleteRule("iptables", [hook, "-i", `${TAP_PREFIX}+`, "-j", "DROP"]);
    await ensureRule("iptables", [hook, "-i", `${TAP_PREFIX}+`, "-j", UNBRIDGED_CHAIN], "1");
    await ensureRule("ip6tables", [hook, "-i", `${TAP_PREFIX}+`, "-j", "DROP"], "1");
  }
}

/** Removes what {@link installBridgeRules} added for `bridge` (tests; a network taken down). */
export async function removeBridgeRules(
  bridge: string,
  subnet: string,
  uplink: string | undefined,
): Promise<void> {
  const chain = forwardChainOf(bridge);
  await deleteRule("iptables", ["FORWARD", "-i", bridge, "-j", chain]);
  await deleteRule("iptables", ["FORWARD", "-o", bridge, "-j", chain]);
  await runCommand("iptables", ["-F", chain]);
  await runCommand("iptables", ["-X", chain]);
  await deleteRule("iptables", [UNBRIDGED_CHAIN, "-i", bridge, "-j", "RETURN"]);
  if (uplink !== undefined) {
    await deleteRule("iptables", [
      "POSTROUTING",
      "-t",
      "nat",
      "-s",
      subnet,
      "-o",
      uplink,
      "-j",
      "MASQUERADE",
    ]);
  }
}

/**
 * Removes the drop of unbridged TAPs (tests, once no VM network is left on the host: it is
 * shared by every VM bridge). Left in place while a VM bridge still has its exemption in it.
 */
export async function removeUnbridgedTapDrop(): Promise<void> {
  const listed = await runCommand("iptables", ["-S", UNBRIDGED_CHAIN]);
  if (listed.ok && /-j RETURN/.test(listed.stdout)) return;
  for (const hook of ["INPUT", "FORWARD"]) {
    await deleteRule("iptables", [hook, "-i", `${TAP_PREFIX}+`, "-j", UNBRIDGED_CHAIN]);
    await deleteRule("ip6tables", [hook, "-i", `${TAP_PREFIX}+`, "-j", "DROP"]);
  }
  await runCommand("iptables", ["-F", UNBRIDGED_CHAIN]);
  await runCommand("iptables", ["-X", UNBRIDGED_CHAIN]);
}

function allowAllRule(bridge: string, ip: string, uplink: string): string[] {
  return [forwardChainOf(bridge), "-i", bridge, "-s", `${ip}/32`, "-o", uplink, "-j", "ACCEPT"];
}

/** Lets the `allow-all` VM at `ip` out of `uplink`. */
export async function allowVmEgress(bridge: string, ip: string, uplink: string): Promise<void> {
  await ensureRule("iptables", allowAllRule(bridge, ip, uplink), "1");
}

/**
 * Removes every forwarding ACCEPT of `ip` in `bridge`'s chain (whatever uplink it named), or,
 * with `keep`, of every address not in it (reconcile).
 */
export async function revokeVmEgress(
  bridge: string,
  select: { ip: string } | { keep: ReadonlySet<string> },
): Promise<void> {
  const chain = forwardChainOf(bridge);
  const listed = await runCommand("iptables", ["-S", chain]);
  if (!listed.ok) return;
  for (const line of listed.stdout.split("\n")) {
    const m = /^-A (\S+) ((?:.* )?-s (\d+\.\d+\.\d+\.\d+)\/32 .*-j ACCEPT)$/.exec(line.trim());
    if (!m || m[1] !== chain) continue;
    const ip = m[3] ?? "";
    const drop = "ip" in select ? ip === select.ip : !select.keep.has(ip);
    if (drop) await runCommand("iptables", ["-D", chain, ...(m[2] ?? "").split(" ")]);
  }
}

const EB_CHAINS = ["INPUT", "FORWARD"] as const;

function spoofRules(tap: string, mac: string, ip: string): string[][] {
  return [
    ["-i", tap, "-s", "!", mac, "-j", "DROP"],
    ["-p", "IPv4", "-i", tap, "--ip-src", "!", ip, "-j", "DROP"],
    ["-p", "ARP", "-i", tap, "--arp-ip-src", "!", ip, "-j", "DROP"],
    ["-p", "IPv6", "-i", tap, "-j", "DROP"],
  ];
}

/**
 * Pins `tap` to `mac` and `ip` at the bridge (see the module comment). Earlier rules of the TAP
 * are replaced, so it is safe to run again.
 */
export async function pinTapSource(tap: string, mac: string, ip: string): Promise<void> {
  await unpinTap(tap);
  for (const chain of EB_CHAINS) {
    for (const rule of spoofRules(tap, mac, ip)) await mustRun("ebtables", ["-A", chain, ...rule]);
  }
}

/** Removes every bridge filter rule naming `tap` (found by listing: its address may be unknown). */
export async function unpinTap(tap: string): Promise<void> {
  for (const chain of EB_CHAINS) {
    const listed = await runCommand("ebtables", ["-L", chain]);
    if (!listed.ok) continue;
    for (const line of listed.stdout.split("\n")) {
      const args = line.trim().split(/\s+/);
      const at = args.indexOf("-i");
      if (at < 0 || args[at + 1] !== tap) continue;
      await runCommand("ebtables", ["-D", chain, ...args]);
    }
  }
}

function dnsRule(bridge: string, gateway: string): string[] {
  return [chainOf(bridge), "-d", `${gateway}/32`, "-p", "udp", "--dport", "53", "-j", "ACCEPT"];
}

/**
 * Lets VMs on `bridge` reach the VM resolver on the bridge address (`gateway`), in the bridge's
 * host chain (which `restrictBridgeToProxy` made). Idempotent.
 */
export async function allowBridgeDns(bridge: string, gateway: string): Promise<void> {
  await ensureRule("iptables", dnsRule(bridge, gateway), "1");
}

/** Removes what {@link allowBridgeDns} added (a network taken down). */
export async function disallowBridgeDns(bridge: string, gateway: string): Promise<void> {
  await deleteRule("iptables", dnsRule(bridge, gateway));
}
