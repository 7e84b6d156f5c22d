import { execFile } from "node:child_process";
import { networkInterfaces } from "node:os";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import {
  compileAddressSet,
  compileAllowList,
  isRefusedAddress,
  normalizeAddress,
} from "./egress-allow-list.js";

const run = promisify(execFile);

describe("egress allow-list", () => {
  const list = compileAllowList([
    "registry.npmjs.org",
    "*.GitHub.com",
    "10.0.0.0/8",
    "192.168.1.7",
    "2001:db8::/32",
  ]);

  it("matches names exactly, or below a wildcard but not the wildcard's apex", () => {
    expect(list.allowsName("registry.npmjs.org")).toBe(true);
    expect(list.allowsName("REGISTRY.npmjs.org.")).toBe(true);
    expect(list.allowsName("npmjs.org")).toBe(false);
    expect(list.allowsName("evil-registry.npmjs.org")).toBe(false);
    expect(list.allowsName("api.github.com")).toBe(true);
    expect(list.allowsName("a.b.github.com")).toBe(true);
    expect(list.allowsName("github.com")).toBe(false);
    expect(list.allowsName("notgithub.com")).toBe(false);
    expect(list.allowsName("github.com.evil.org")).toBe(false);
  });

  it("matches literal addresses against IPs and ranges only, never names", () => {
    expect(list.allowsAddress("10.200.3.4")).toBe(true);
    expect(list.allowsAddress("::ffff:10.1.1.1")).toBe(true);
    expect(list.allowsAddress("11.0.0.1")).toBe(false);
    expect(list.allowsAddress("192.168.1.7")).toBe(true);
    expect(list.allowsAddress("192.168.1.8")).toBe(false);
    expect(list.allowsAddress("2001:db8:1::5")).toBe(true);
    expect(list.allowsAddress("2001:db9::1")).toBe(false);
    expect(list.allowsName("10.0.0.1")).toBe(false);
    expect(list.allowsAddress("registry.npmjs.org")).toBe(false);
  });

  it("allows nothing when empty", () => {
    const none = compileAllowList([]);
    expect(none.allowsName("example.com")).toBe(false);
    expect(none.allowsAddress("8.8.8.8")).toBe(false);
  });

  it("never lets a sandbox reach loopback, link-local, metadata, multicast or this host", () => {
    for (const a of ["127.0.0.1", "127.9.9.9", "::1", "0.0.0.0", "169.254.169.254", "fe80::1"])
      expect(isRefusedAddress(a), a).toBe(true);
    expect(isRefusedAddress("::ffff:127.0.0.1")).toBe(true);
    expect(isRefusedAddress("224.0.0.251")).toBe(true);
    const own = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal);
    if (own) expect(isRefusedAddress(own.address)).toBe(true);
    expect(isRefusedAddress("203.0.113.9")).toBe(false);
  });

  it("reads every notation of an address as that address", () => {
    for (const form of [
      "172.18.0.1",
      "::ffff:172.18.0.1",
      "::ffff:ac12:1",
      "[::FFFF:AC12:0001]",
      "0:0:0:0:0:ffff:ac12:1",
      "::ffff:0:ac12:1",
      "::172.18.0.1",
    ]) {
      expect(normalizeAddress(form), form).toBe("172.18.0.1");
    }
    expect(normalizeAddress("2001:DB8::1")).toBe("2001:db8:0:0:0:0:0:1");
    expect(normalizeAddress("::1")).toBe("0:0:0:0:0:0:0:1");
    expect(normalizeAddress("fe80::1%eth0")).toBeUndefined();
    expect(normalizeAddress("example.com")).toBeUndefined();
    const nets = compileAddressSet(["172.18.0.0/16", "fd12::/64"]);
    expect(nets.has("::ffff:ac12:9")).toBe(true);
    expect(nets.has("FD12:0::5")).toBe(true);
    expect(nets.has("172.19.0.1")).toBe(false);
  });

  it("refuses this host's addresses in every notation, and the networks it is told to", () => {
    const own = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal);
    if (own) {
      const [a = 0, b = 0, c = 0, d = 0] = own.address.split(".").map(Number);
      const hex = `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
      for (const form of [own.address, `::ffff:${own.address}`, hex, `::${own.address}`])
        expect(isRefusedAddress(form), form).toBe(true);
    }
    // NAT64 and 6to4 forms of loopback: refused as the IPv4 they carry.
    expect(isRefusedAddress("64:ff9b::7f00:1")).toBe(true);
    expect(isRefusedAddress("2002:7f00:1::1")).toBe(true);
    expect(isRefusedAddress("not-an-address")).toBe(true);
    const sandboxes = compileAddressSet(["198.51.100.0/24"]);
    expect(isRefusedAddress("198.51.100.7", sandboxes)).toBe(true);
    expect(isRefusedAddress("::ffff:c633:6407", sandboxes)).toBe(true);
    expect(isRefusedAddress("198.51.100.7")).toBe(false);
  });

  it("refuses the addresses of interfaces without carrier, which os.networkInterfaces() omits", async () => {
    // Every IPv4 address the host holds, whatever the link state (a bridge without containers
    // has NO-CARRIER, and still answers on its address).
    const all = await run("ip", ["-j", "-4", "addr", "show"]).then(
      (r) => JSON.parse(r.stdout) as { ifname: string; addr_info?: { local: string }[] }[],
      () => [],
    );
    const listed = new Set(
      Object.values(networkInterfaces())
        .flat()
        .map((a) => a?.address),
    );
    const hidden = all.flatMap((i) => (i.addr_info ?? []).map((a) => a.local));
    for (const address of hidden) expect(isRefusedAddress(address), address).toBe(true);
    // Where the host has such an interface (docker0 without containers), it was the gap.
    const unlisted = hidden.filter((a) => !listed.has(a));
    for (const address of unlisted) {
      const [a = 0, b = 0, c = 0, d = 0] = address.split(".").map(Number);
      expect(
        isRefusedAddress(`::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`),
      ).toBe(true);
    }
  });
});
