/**
 * The host side of the sandbox bridges. Docker forwards a bridge's traffic to the outside world
 * (or, for an internal network, nowhere), but the host itself answers on every bridge: each service
 * listening on all interfaces or on a bridge address (a worker's data plane and its `/metrics`, a
 * gateway, a database) would be one hop from every sandbox. These INPUT rules make the host accept
 * nothing new from a sandbox bridge: from an allow-list bridge only the egress proxy's port, from
 * an allow-all bridge nothing at all. Replies to connections the host opened stay accepted.
 *
 * Layout: one chain per bridge, `AETH-<bridge>`, jumped to from the top of INPUT for packets from
 * that bridge, in iptables and ip6tables. It starts with an ACCEPT of ESTABLISHED,RELATED (and,
 * for IPv6, of neighbour discovery), holds one ACCEPT per IPv4 proxy port (inserted at its top)
 * and ends with a DROP (allow-list) or REJECT (allow-all). Several workers on one host, each with
 * its own port, can add theirs without reordering anyone's; every step checks before it adds, so
 * running it again, or from several processes at once, changes nothing.
 * @module
 */
import { execFile } from "node:child_process";

type Tables = "iptables" | "ip6tables";

function run(
  tables: Tables,
  args: readonly string[],
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // -w: wait for the xtables lock (dockerd and other workers edit the tables too).
    execFile(tables, ["-w", "5", ...args], { timeout: 15_000 }, (err, out, stderr) =>
      resolve({
        ok: err === null,
        stdout: String(out),
        stderr: String(stderr).trim() || String(err?.message ?? ""),
      }),
    );
  });
}

async function must(tables: Tables, args: readonly string[]): Promise<void> {
  const r = await run(tables, args);
  if (!r.ok) {
    throw new Error(
      `cannot install the sandbox firewall (${tables} ${args.join(" ")}): ${r.stderr}`,
    );
  }
}

/** The chain of `bridge` (chain names have at most 28 characters; bridge names 15). */
export function chainOf(bridge: string): string {
  return `AETH-${bridge}`;
}

const ESTABLISHED = ["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"];

// IPv6 finds its gateway with ICMPv6 neighbour discovery sent to the host: refusing it would
// cut the bridge's IPv6 route out along with the host.
const NEIGHBOUR_DISCOVERY = ["neighbour-solicitation", "neighbour-advertisement"].map((type) => [
  "-p",
  "ipv6-icmp",
  "--icmpv6-type",
  type,
  "-j",
  "ACCEPT",
]);

/** Creates `bridge`'s chain if missing, with its final verdict and its jump from INPUT. */
async function ensureChain(tables: Tables, bridge: string, verdict: string): Promise<void> {
  const chain = chainOf(bridge);
  if (!(await run(tables, ["-n", "-L", chain])).ok) {
    const made = await run(tables, ["-N", chain]);
    // Another worker may have made it between the check and here.
    if (!made.ok && !(await run(tables, ["-n", "-L", chain])).ok) await must(tables, ["-N", chain]);
  }
  const last = [chain, "-j", verdict];
  if (!(await run(tables, ["-C", ...last])).ok) await must(tables, ["-A", ...last]);
  const accepts = tables === "ip6tables" ? [ESTABLISHED, ...NEIGHBOUR_DISCOVERY] : [ESTABLISHED];
  for (const accept of accepts) {
    if (!(await run(tables, ["-C", chain, ...accept])).ok) {
      await must(tables, ["-I", chain, "1", ...accept]);
    }
  }
  const jump = ["INPUT", "-i", bridge, "-j", chain];
  if (!(await run(tables, ["-C", ...jump])).ok) {
    await must(tables, ["-I", "INPUT", "1", ...jump.slice(1)]);
  }
}

/**
 * Makes the host accept only TCP `port` from interface `bridge` (and replies to its own
 * connections). Idempotent; safe to call from several worker processes. Throws when the rules
 * cannot be installed (no iptables, no root): an allow-list that cannot be enforced must not be
 * pretended.
 */
export async function restrictBridgeToProxy(bridge: string, port: number): Promise<void> {
  await ensureChain("iptables", bridge, "DROP");
  // The proxy listens on IPv4 only; over IPv6 (a link-local address at least, where containers
  // have IPv6) the host accepts nothing new. Attempted only: an internal bridge without IPv6
  // addresses has no IPv6 route to lose.
  await ensureChain("ip6tables", bridge, "DROP").catch(() => {});
  const chain = chainOf(bridge);
  const accept = ["-p", "tcp", "--dport", String(port), "-j", "ACCEPT"];
  if (!(await run("iptables", ["-C", chain, ...accept])).ok) {
    await must("iptables", ["-I", chain, "1", ...accept]);
  }
}

/**
 * Makes the host refuse every new connection from interface `bridge`, to any of its addresses and
 * ports, while its own connections into the bridge still get their replies; forwarded traffic
 * (a sandbox reaching the outside world) is not INPUT and is untouched. Installed for IPv4, and
 * for IPv6 too: required when `ipv6` (the bridge has IPv6 addresses), attempted otherwise, since a
 * bridge still has a link-local address. Idempotent and safe to call from several worker
 * processes. Throws when a required rule cannot be installed, so no sandbox is started on a
 * bridge that would reach the host.
 */
export async function isolateBridgeFromHost(
  bridge: string,
  options: { ipv6: boolean },
): Promise<void> {
  await ensureChain("iptables", bridge, "REJECT");
  try {
    await ensureChain("ip6tables", bridge, "REJECT");
  } catch (err) {
    if (options.ipv6) throw err;
  }
}

async function removeChain(tables: Tables, bridge: string): Promise<void> {
  const chain = chainOf(bridge);
  for (let i = 0; i < 16; i++) {
    if (!(await run(tables, ["-D", "INPUT", "-i", bridge, "-j", chain])).ok) break;
  }
  await run(tables, ["-F", chain]);
  await run(tables, ["-X", chain]);
}

/**
 * Removes `port`'s ACCEPT, and the whole chain once no port is left in it (tests; a network
 * being removed).
 */
export async function unrestrictBridge(bridge: string, port: number): Promise<void> {
  const chain = chainOf(bridge);
  const accept = ["-p", "tcp", "--dport", String(port), "-j", "ACCEPT"];
  for (let i = 0; i < 16; i++) if (!(await run("iptables", ["-D", chain, ...accept])).ok) break;
  const listed = await run("iptables", ["-S", chain]);
  if (listed.ok && /--dport \d+ -j ACCEPT/.test(listed.stdout)) return;
  await removeChain("iptables", bridge);
  await removeChain("ip6tables", bridge);
}

/** Removes what {@link isolateBridgeFromHost} installed for `bridge` (tests; a network being removed). */
export async function unisolateBridge(bridge: string): Promise<void> {
  await removeChain("iptables", bridge);
  await removeChain("ip6tables", bridge);
}
