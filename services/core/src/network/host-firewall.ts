/**
 * The host side of an allow-list network. Docker's internal network already stops forwarding to
 * anywhere else, but the host itself still answers on the bridge address: every service listening
 * on all interfaces (a worker's data plane, a database) would be one hop away. These INPUT rules
 * let the bridge reach the egress proxy's port and nothing else on the host.
 *
 * Layout: one chain per bridge, `AETH-<bridge>`, jumped to from the top of INPUT for packets from
 * that bridge; it holds one ACCEPT per proxy port (inserted at its top) and a final DROP. Several
 * workers on one host, each with its own port, can add theirs without reordering anyone's.
 * @module
 */
import { execFile } from "node:child_process";

function iptables(
  args: readonly string[],
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // -w: wait for the xtables lock (dockerd edits the tables too).
    execFile("iptables", ["-w", "5", ...args], { timeout: 15_000 }, (err, out, stderr) =>
      resolve({
        ok: err === null,
        stdout: String(out),
        stderr: String(stderr).trim() || String(err?.message ?? ""),
      }),
    );
  });
}

async function must(args: readonly string[]): Promise<void> {
  const r = await iptables(args);
  if (!r.ok) {
    throw new Error(`cannot install the egress firewall (iptables ${args.join(" ")}): ${r.stderr}`);
  }
}

/** The chain of `bridge` (chain names have at most 28 characters; bridge names 15). */
export function chainOf(bridge: string): string {
  return `AETH-${bridge}`;
}

/**
 * Makes the host accept only TCP `port` from interface `bridge`. Idempotent; safe to call from
 * several worker processes. Throws when the rules cannot be installed (no iptables, no root):
 * an allow-list that cannot be enforced must not be pretended.
 */
export async function restrictBridgeToProxy(bridge: string, port: number): Promise<void> {
  const chain = chainOf(bridge);
  if (!(await iptables(["-n", "-L", chain])).ok) {
    const made = await iptables(["-N", chain]);
    // Another worker may have made it between the check and here.
    if (!made.ok && !(await iptables(["-n", "-L", chain])).ok) await must(["-N", chain]);
  }
  const drop = [chain, "-j", "DROP"];
  if (!(await iptables(["-C", ...drop])).ok) await must(["-A", ...drop]);
  const accept = ["-p", "tcp", "--dport", String(port), "-j", "ACCEPT"];
  if (!(await iptables(["-C", chain, ...accept])).ok) await must(["-I", chain, "1", ...accept]);
  const jump = ["INPUT", "-i", bridge, "-j", chain];
  if (!(await iptables(["-C", ...jump])).ok) await must(["-I", "INPUT", "1", ...jump.slice(1)]);
}

/**
 * Removes `port`'s ACCEPT, and the whole chain once no port is left in it (tests; a network
 * being removed).
 */
export async function unrestrictBridge(bridge: string, port: number): Promise<void> {
  const chain = chainOf(bridge);
  const accept = ["-p", "tcp", "--dport", String(port), "-j", "ACCEPT"];
  for (let i = 0; i < 16; i++) if (!(await iptables(["-D", chain, ...accept])).ok) break;
  const listed = await iptables(["-S", chain]);
  if (listed.ok && listed.stdout.includes("ACCEPT")) return;
  for (let i = 0; i < 16; i++) {
    if (!(await iptables(["-D", "INPUT", "-i", bridge, "-j", chain])).ok) break;
  }
  await iptables(["-F", chain]);
  await iptables(["-X", chain]);
}
