import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import {
  chainOf,
  isolateBridgeFromHost,
  restrictBridgeToProxy,
  unisolateBridge,
  unrestrictBridge,
} from "./host-firewall.js";

const run = promisify(execFile);
const haveIptables =
  process.getuid?.() === 0 &&
  (await run("iptables", ["-w", "5", "-n", "-L", "INPUT"]).then(
    () => true,
    () => false,
  ));
const haveIp6tables =
  haveIptables &&
  (await run("ip6tables", ["-w", "5", "-n", "-L", "INPUT"]).then(
    () => true,
    () => false,
  ));

// Interface names no real bridge has: the rules match nothing while they exist.
const suffix = randomBytes(3).toString("hex");
const bridge = `aethfw${suffix}`;
const open = `aethfo${suffix}`;
const rules = async (chain: string, tables = "iptables") =>
  (await run(tables, ["-w", "5", "-S", chain]).catch(() => ({ stdout: "" }))).stdout;
const established = (chain: string) =>
  `-A ${chain} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`;

describe.skipIf(!haveIptables)("host firewall for the sandbox bridges (real iptables)", () => {
  afterAll(async () => {
    await unrestrictBridge(bridge, 3128);
    await unrestrictBridge(bridge, 3129);
    await unisolateBridge(open);
  });

  it("accepts only the proxy ports from the bridge, each above the drop, idempotently", async () => {
    await restrictBridgeToProxy(bridge, 3128);
    await restrictBridgeToProxy(bridge, 3128);
    await restrictBridgeToProxy(bridge, 3129);
    const chain = (await rules(chainOf(bridge))).trim().split("\n").slice(1);
    expect(chain).toEqual([
      `-A ${chainOf(bridge)} -p tcp -m tcp --dport 3129 -j ACCEPT`,
      `-A ${chainOf(bridge)} -p tcp -m tcp --dport 3128 -j ACCEPT`,
      established(chainOf(bridge)),
      `-A ${chainOf(bridge)} -j DROP`,
    ]);
    const jumps = (await rules("INPUT")).split("\n").filter((l) => l.includes(bridge));
    expect(jumps).toEqual([`-A INPUT -i ${bridge} -j ${chainOf(bridge)}`]);
    if (haveIp6tables) {
      // No proxy over IPv6: only replies and neighbour discovery, then the drop.
      const v6 = (await rules(chainOf(bridge), "ip6tables")).trim().split("\n").slice(1);
      expect(v6.at(-1)).toBe(`-A ${chainOf(bridge)} -j DROP`);
      expect(v6.some((l) => l.includes("--dport"))).toBe(false);
    }
  });

  it("removes a port, and the chain with its jump once none is left", async () => {
    await unrestrictBridge(bridge, 3129);
    expect(await rules(chainOf(bridge))).not.toContain("3129");
    await unrestrictBridge(bridge, 3128);
    expect(await rules(chainOf(bridge))).toBe("");
    expect(await rules("INPUT")).not.toContain(bridge);
    expect(await rules(chainOf(bridge), "ip6tables")).toBe("");
    expect(await rules("INPUT", "ip6tables")).not.toContain(bridge);
  });

  it("refuses everything new from an allow-all bridge but replies, once however often and concurrently it is installed", async () => {
    await Promise.all([
      isolateBridgeFromHost(open, { ipv6: false }),
      isolateBridgeFromHost(open, { ipv6: false }),
    ]);
    await isolateBridgeFromHost(open, { ipv6: false });
    const chain = (await rules(chainOf(open))).trim().split("\n").slice(1);
    // Concurrent installs may each add a rule the other had not yet: the order is what matters.
    expect([...new Set(chain)]).toEqual([
      established(chainOf(open)),
      `-A ${chainOf(open)} -j REJECT --reject-with icmp-port-unreachable`,
    ]);
    const jumps = (await rules("INPUT")).split("\n").filter((l) => l.includes(open));
    expect(new Set(jumps)).toEqual(new Set([`-A INPUT -i ${open} -j ${chainOf(open)}`]));
    if (haveIp6tables) {
      const v6 = (await rules(chainOf(open), "ip6tables")).trim().split("\n").slice(1);
      expect(v6.at(-1)).toBe(`-A ${chainOf(open)} -j REJECT --reject-with icmp6-port-unreachable`);
      expect(v6).toContain(established(chainOf(open)));
      expect(
        (await rules("INPUT", "ip6tables")).split("\n").filter((l) => l.includes(open)).length,
      ).toBeGreaterThan(0);
    }
    await unisolateBridge(open);
    expect(await rules(chainOf(open))).toBe("");
    expect(await rules("INPUT")).not.toContain(open);
    expect(await rules("INPUT", "ip6tables")).not.toContain(open);
  });
});
