import { networkInterfaces } from "node:os";
import { describe, expect, it } from "vitest";
import { compileAllowList, isRefusedAddress } from "./egress-allow-list.js";

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
});
