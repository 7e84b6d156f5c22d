import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { chainOf, restrictBridgeToProxy, unrestrictBridge } from "./host-firewall.js";

const run = promisify(execFile);
const haveIptables =
  process.getuid?.() === 0 &&
  (await run("iptables", ["-w", "5", "-n", "-L", "INPUT"]).then(
    () => true,
    () => false,
  ));

// An interface name no real bridge has: the rules match nothing while they exist.
const bridge = `aethfw${randomBytes(3).toString("hex")}`;
const rules = async (chain: string) =>
  (await run("iptables", ["-w", "5", "-S", chain]).catch(() => ({ stdout: "" }))).stdout;

describe.skipIf(!haveIptables)("host firewall for the egress bridge (real iptables)", () => {
  afterAll(async () => {
    await unrestrictBridge(bridge, 3128);
    await unrestrictBridge(bridge, 3129);
  });

  it("accepts only the proxy ports from the bridge, each above the drop, idempotently", async () => {
    await restrictBridgeToProxy(bridge, 3128);
    await restrictBridgeToProxy(bridge, 3128);
    await restrictBridgeToProxy(bridge, 3129);
    const chain = (await rules(chainOf(bridge))).trim().split("\n").slice(1);
    expect(chain).toEqual([
      `-A ${chainOf(bridge)} -p tcp -m tcp --dport 3129 -j ACCEPT`,
      `-A ${chainOf(bridge)} -p tcp -m tcp --dport 3128 -j ACCEPT`,
      `-A ${chainOf(bridge)} -j DROP`,
    ]);
    const jumps = (await rules("INPUT")).split("\n").filter((l) => l.includes(bridge));
    expect(jumps).toEqual([`-A INPUT -i ${bridge} -j ${chainOf(bridge)}`]);
  });

  it("removes a port, and the chain with its jump once none is left", async () => {
    await unrestrictBridge(bridge, 3129);
    expect(await rules(chainOf(bridge))).not.toContain("3129");
    await unrestrictBridge(bridge, 3128);
    expect(await rules(chainOf(bridge))).toBe("");
    expect(await rules("INPUT")).not.toContain(bridge);
  });
});
