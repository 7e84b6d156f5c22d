import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import {
  createRepositories,
  Migrator,
  openDatabase,
  type DatabaseHandle,
  type Repositories,
} from "@aetherium/core";
import { useTestDatabase } from "@aetherium/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restrictBridgeToProxy, unrestrictBridge } from "../network/host-firewall.js";
import type { NetworkAttachment } from "./network-attachment.js";
import { forwardChainOf, removeUnbridgedTapDrop } from "./vm-firewall.js";
import { VmNetwork } from "./vm-network.js";

const run = promisify(execFile);
const ok = (file: string, args: string[]) =>
  run(file, args).then(
    () => true,
    () => false,
  );
const missing =
  process.getuid?.() !== 0
    ? "needs root"
    : !(await ok("ip", ["netns", "list"]))
      ? "needs iproute2 with netns support"
      : !(await ok("iptables", ["-w", "5", "-n", "-L", "INPUT"]))
        ? "needs iptables"
        : !(await ok("ebtables", ["-L", "INPUT"]))
          ? "needs ebtables"
          : undefined;
if (missing) console.log(`VM network tests skipped: ${missing}`);

const pgDb = useTestDatabase();

// Names and addresses of this run only: nothing of another test or of the host is touched.
const tag = randomBytes(2).toString("hex");
const bridge = `aevt${tag}`;
const octet = randomInt(0, 250);
const subnet = `10.214.${octet}.0/24`;
const gateway = `10.214.${octet}.1`;
/** The "outside world" of the allow-list test: a namespace on a link of its own. */
const outside = { ns: `aev-out-${tag}`, host: `10.215.${octet}.1`, ip: `10.215.${octet}.2` };
const proxyPort = randomInt(20_000, 30_000);
const namespaces: string[] = [];

/** A guest stand-in: a network namespace holding the peer of the VM's host-side link. */
function guestLink(ns: string) {
  return async (tap: string) => {
    await run("ip", ["netns", "add", ns]);
    namespaces.push(ns);
    await run("ip", ["link", "add", tap, "type", "veth", "peer", "name", "eth0", "netns", ns]);
  };
}

/** Configures the guest side as the VM's kernel would from `ip=`. */
async function bootGuest(ns: string, a: NetworkAttachment): Promise<void> {
  const inNs = (args: string[]) => run("ip", ["-n", ns, ...args]);
  await inNs(["link", "set", "dev", "eth0", "address", a.mac]);
  await inNs(["addr", "add", `${a.guestIp}/${a.prefix}`, "dev", "eth0"]);
  await inNs(["link", "set", "dev", "eth0", "up"]);
  await inNs(["link", "set", "dev", "lo", "up"]);
  await inNs(["route", "add", "default", "via", a.gateway]);
}

/** curl from inside `ns`: the body, or undefined when it did not get a 2xx answer in time. */
async function curlFrom(ns: string, url: string, proxy?: string): Promise<string | undefined> {
  const args = ["netns", "exec", ns, "curl", "-sf", "-m", "4", "--noproxy", proxy ? "" : "*"];
  if (proxy) args.push("--proxy", proxy);
  try {
    return (await run("ip", [...args, url], { timeout: 15_000 })).stdout;
  } catch {
    return undefined;
  }
}

/**
 * Resolves `name` to IPv4 addresses from inside `ns`, asking the VM resolver on the bridge
 * address as a guest's `resolv.conf` does: the addresses, or the error code (`EREFUSED`,
 * `ETIMEOUT`).
 */
async function resolveFrom(ns: string, name: string): Promise<string> {
  const script = `const r = new (require("dns").promises.Resolver)({ timeout: 1500, tries: 1 });
r.setServers(["${gateway}"]);
r.resolve4("${name}").then((a) => console.log(a.join(",")), (e) => console.log(e.code));`;
  const out = await run("ip", ["netns", "exec", ns, process.execPath, "-e", script], {
    timeout: 15_000,
  });
  return out.stdout.trim();
}

async function links(): Promise<string> {
  return (await run("ip", ["-o", "link", "show"])).stdout;
}

describe.skipIf(missing !== undefined)("VM network (real bridge, TAP stand-ins in netns)", () => {
  let handle: DatabaseHandle;
  let repos: Repositories;
  let network: VmNetwork;
  let server: http.Server;
  let serverPort = 0;
  // Listens on the bridge address too, but its port is not opened to the VMs.
  let closed: http.Server;
  let closedPort = 0;
  let outsideServer: ChildProcess | undefined;

  const make = (workerId: string, createLink?: (tap: string) => Promise<void>) =>
    new VmNetwork({
      bridge,
      subnet,
      leases: repos.vmNetworkLeases,
      workerId,
      proxyPort,
      lookup: (host) =>
        host === "svc.test"
          ? Promise.resolve([gateway])
          : Promise.resolve(
              host === "allowed.test" ? [outside.ip] : host === "refused.test" ? [outside.ip] : [],
            ),
      ...(createLink ? { createLink } : {}),
    });

  beforeAll(async () => {
    handle = await openDatabase({ url: pgDb.current.url });
    await new Migrator(handle.db).up();
    repos = createRepositories(handle.db);
    network = make("w-net-1");
    await network.ready();
    // A test service on the bridge address, opened to the VMs like the proxy's port is.
    server = http.createServer((_req, res) => res.end("bridge-ok"));
    await new Promise<void>((resolve) => server.listen(0, gateway, resolve));
    serverPort = (server.address() as AddressInfo).port;
    await restrictBridgeToProxy(bridge, serverPort);
    closed = http.createServer((_req, res) => res.end("host-reached"));
    await new Promise<void>((resolve) => closed.listen(0, gateway, resolve));
    closedPort = (closed.address() as AddressInfo).port;
    // The allow-list's destination: a namespace on its own link, routed by the host.
    await run("ip", ["netns", "add", outside.ns]);
    namespaces.push(outside.ns);
    await run("ip", [
      "link",
      "add",
      `aeto${tag}`,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      outside.ns,
    ]);
    await run("ip", ["addr", "add", `${outside.host}/24`, "dev", `aeto${tag}`]);
    await run("ip", ["link", "set", "dev", `aeto${tag}`, "up"]);
    await run("ip", ["-n", outside.ns, "addr", "add", `${outside.ip}/24`, "dev", "eth0"]);
    await run("ip", ["-n", outside.ns, "link", "set", "dev", "eth0", "up"]);
    outsideServer = spawn(
      "ip",
      [
        "netns",
        "exec",
        outside.ns,
        process.execPath,
        "-e",
        `require("http").createServer((q,r)=>r.end("outside-ok")).listen(8080,"${outside.ip}")`,
      ],
      { stdio: "ignore" },
    );
    for (let i = 0; i < 50; i++) {
      if (await ok("curl", ["-sf", "-m", "1", "--noproxy", "*", `http://${outside.ip}:8080/`]))
        break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 120_000);

  afterAll(async () => {
    outsideServer?.kill();
    await network?.reconcile([]).catch(() => {});
    await unrestrictBridge(bridge, serverPort).catch(() => {});
    await network?.remove().catch(() => {});
    // Shared by every VM bridge: removed only when no other VM TAP is on the host.
    if (!/: aev[0-9a-f]{12}[@:]/.test(await links())) await removeUnbridgedTapDrop();
    await run("ip", ["link", "del", `aeto${tag}`]).catch(() => {});
    for (const ns of namespaces) await run("ip", ["netns", "del", ns]).catch(() => {});
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (closed ? closed.close(() => resolve()) : resolve()));
    await handle?.close();
  }, 120_000);

  it("gives two VMs different addresses; each reaches the bridge address, neither the other", async () => {
    const a = make("w-net-1", guestLink(`aev-a-${tag}`));
    const b = make("w-net-1", guestLink(`aev-b-${tag}`));
    const ea = await a.attach("sb-net-a", "allow-all");
    const eb = await b.attach("sb-net-b", "allow-all");
    try {
      expect(ea.guestIp).not.toBe(eb.guestIp);
      expect(ea.mac).not.toBe(eb.mac);
      expect(ea.mac).toMatch(/^02(:[0-9a-f]{2}){5}$/);
      // Its resolver is the bridge address.
      expect(ea.dns).toBe(gateway);
      expect(ea.kernelIpArg).toBe(
        `ip=${ea.guestIp}::${gateway}:255.255.255.0::eth0:off:${gateway}`,
      );
      await bootGuest(`aev-a-${tag}`, ea);
      await bootGuest(`aev-b-${tag}`, eb);
      expect(await curlFrom(`aev-a-${tag}`, `http://${gateway}:${serverPort}/`)).toBe("bridge-ok");
      expect(await curlFrom(`aev-b-${tag}`, `http://${gateway}:${serverPort}/`)).toBe("bridge-ok");
      // Names resolve through the resolver on the bridge address.
      expect(await resolveFrom(`aev-a-${tag}`, "svc.test")).toBe(gateway);
      // The host's other services are refused…
      expect(await curlFrom(`aev-a-${tag}`, `http://${gateway}:${closedPort}/`)).toBeUndefined();
      // …so is another sandbox (b listens on its own address)…
      const inB = spawn(
        "ip",
        [
          "netns",
          "exec",
          `aev-b-${tag}`,
          process.execPath,
          "-e",
          `require("http").createServer((q,r)=>r.end("b")).listen(8080,"${eb.guestIp}")`,
        ],
        { stdio: "ignore" },
      );
      try {
        await new Promise((r) => setTimeout(r, 1000));
        expect(await curlFrom(`aev-a-${tag}`, `http://${eb.guestIp}:8080/`)).toBeUndefined();
      } finally {
        inB.kill();
      }
      // …nor a host network other than the uplink (the allow-list test's "outside" link).
      expect(await curlFrom(`aev-a-${tag}`, `http://${outside.ip}:8080/`)).toBeUndefined();
      // A spoofed source address gets nowhere either.
      await run("ip", [
        "-n",
        `aev-a-${tag}`,
        "addr",
        "add",
        `10.214.${octet}.250/24`,
        "dev",
        "eth0",
      ]);
      expect(
        await run("ip", [
          "netns",
          "exec",
          `aev-a-${tag}`,
          "curl",
          "-sf",
          "-m",
          "3",
          "--interface",
          `10.214.${octet}.250`,
          `http://${gateway}:${serverPort}/`,
        ]).then(
          () => "reached",
          () => "refused",
        ),
      ).toBe("refused");
    } finally {
      await a.detach("sb-net-a");
      await b.detach("sb-net-b");
    }
  }, 120_000);

  it("deny-all: the guest reaches nothing, not even the bridge address", async () => {
    const ns = `aev-d-${tag}`;
    const d = make("w-net-1", guestLink(ns));
    const ed = await d.attach("sb-net-deny", "deny-all");
    try {
      await bootGuest(ns, ed);
      expect(await links()).not.toMatch(new RegExp(`${ed.tap}.*master ${bridge}`));
      expect(await curlFrom(ns, `http://${gateway}:${serverPort}/`)).toBeUndefined();
      expect(await curlFrom(ns, `http://${outside.ip}:8080/`)).toBeUndefined();
      expect(ed.dns).toBeUndefined();
      expect(await resolveFrom(ns, "svc.test")).toBe("ETIMEOUT");
    } finally {
      await d.detach("sb-net-deny");
    }
  }, 120_000);

  it("allow-list: only the allowed host, only through the proxy", async () => {
    const ns = `aev-l-${tag}`;
    const l = make("w-net-1", guestLink(ns));
    const el = await l.attach("sb-net-list", { allow: ["allowed.test"] });
    try {
      await bootGuest(ns, el);
      expect(el.proxyUrl).toBe(`http://${gateway}:${proxyPort}`);
      expect(await curlFrom(ns, "http://allowed.test:8080/", el.proxyUrl)).toBe("outside-ok");
      // A name not on the list, though it points at the same host: refused by the proxy.
      expect(await curlFrom(ns, "http://refused.test:8080/", el.proxyUrl)).toBeUndefined();
      // Ignoring the proxy: no route, whatever the address.
      expect(await curlFrom(ns, `http://${outside.ip}:8080/`)).toBeUndefined();
      expect(await curlFrom(ns, `http://${gateway}:${closedPort}/`)).toBeUndefined();
      // No resolver of its own: names are the proxy's business, checked against the list.
      expect(el.dns).toBeUndefined();
      expect(await resolveFrom(ns, "svc.test")).toBe("EREFUSED");
    } finally {
      await l.detach("sb-net-list");
    }
  }, 120_000);

  it("detach and reconcile remove TAPs, rules and leases of VMs that are gone", async () => {
    const gone = make("w-net-2", guestLink(`aev-g-${tag}`));
    const kept = make("w-net-2", guestLink(`aev-k-${tag}`));
    const other = make("w-net-3", guestLink(`aev-o-${tag}`));
    const eg = await gone.attach("sb-net-gone", "allow-all");
    const ek = await kept.attach("sb-net-kept", "allow-all");
    const eo = await other.attach("sb-net-other", "allow-all");
    const chain = async () =>
      (await run("iptables", ["-w", "5", "-S", forwardChainOf(bridge)])).stdout;
    const eb = async () => (await run("ebtables", ["-L", "FORWARD"])).stdout;
    try {
      expect(await links()).toContain(eg.tap);
      expect(await chain()).toContain(`${eg.guestIp}/32`);
      expect(await eb()).toContain(eg.tap);

      // A restarted worker that still runs only sb-net-kept.
      const restarted = make("w-net-2");
      expect(await restarted.reconcile(["sb-net-kept"])).toEqual(["sb-net-gone"]);
      expect(await links()).not.toContain(eg.tap);
      expect(await chain()).not.toContain(`${eg.guestIp}/32`);
      expect(await eb()).not.toContain(eg.tap);
      expect(await repos.vmNetworkLeases.get(subnet, "sb-net-gone")).toBeUndefined();
      // Its live VM and another worker's are untouched.
      expect(await links()).toContain(ek.tap);
      expect(await links()).toContain(eo.tap);
      expect((await repos.vmNetworkLeases.get(subnet, "sb-net-other"))?.ip).toBe(eo.guestIp);

      // A TAP whose lease is gone (its row removed while the host was down) is an orphan.
      await repos.vmNetworkLeases.release(subnet, "sb-net-other");
      expect(await restarted.reconcile(["sb-net-kept"])).toEqual(["sb-net-other"]);
      expect(await links()).not.toContain(eo.tap);
      expect(await chain()).not.toContain(`${eo.guestIp}/32`);

      await restarted.detach("sb-net-kept");
      expect(await links()).not.toContain(ek.tap);
      expect(await chain()).not.toContain(`${ek.guestIp}/32`);
      expect(await repos.vmNetworkLeases.list(subnet)).toEqual([]);
      // Detaching twice is fine.
      await restarted.detach("sb-net-kept");
    } finally {
      for (const id of ["sb-net-gone", "sb-net-kept", "sb-net-other"]) {
        await other.detach(id).catch(() => {});
      }
    }
  }, 120_000);
});
