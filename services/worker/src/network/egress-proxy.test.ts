import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileAddressSet, compileAllowList, readHostAddresses } from "./egress-allow-list.js";
import { EgressProxy, decideEgress, parseAuthority } from "./egress-proxy.js";

/*
 * The proxy's refusals, over real sockets on loopback. Its forwarding is tested where it has
 * somewhere legitimate to forward to: docker-egress.test.ts, between containers of that test.
 */
const looked: string[] = [];
const lookup = (host: string): Promise<string[]> => {
  looked.push(host);
  if (host === "loop.test") return Promise.resolve(["127.0.0.1"]);
  return Promise.reject(Object.assign(new Error("not found"), { code: "ENOTFOUND" }));
};

let proxy: EgressProxy;
let port: number;
let known = true;

beforeAll(async () => {
  proxy = new EgressProxy({
    identify: () =>
      Promise.resolve(
        known
          ? {
              sandboxId: "vm_test",
              allow: compileAllowList(["loop.test", "gone.test", "10.0.0.0/8"]),
            }
          : undefined,
      ),
    lookup,
  });
  await proxy.listen("127.0.0.1", 0);
  port = proxy.address?.port ?? 0;
});

afterAll(async () => {
  await proxy.close();
});

function get(
  target: string,
  to = port,
): Promise<{ status: number; body: string; refused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: to, path: target, method: "GET" },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            refused: res.headers["x-aetherium-egress"] === "refused",
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

function connectThrough(authority: string, to = port): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port: to });
    let text = "";
    s.setEncoding("utf8");
    s.on("data", (c: string) => (text += c));
    s.on("end", () => resolve(text));
    s.on("error", reject);
    s.write(`CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n\r\n`);
  });
}

describe("egress proxy", () => {
  it("refuses a name outside the list without resolving it", async () => {
    looked.length = 0;
    const r = await get("http://example.org/secret?token=1");
    expect(r.status).toBe(403);
    expect(r.refused).toBe(true);
    expect(r.body).toContain("example.org is not in the sandbox's egress allow-list");
    const tunnel = await connectThrough("example.org:443");
    expect(tunnel).toMatch(/^HTTP\/1\.1 403 /);
    expect(looked).toEqual([]);
  });

  it("refuses an allowed name that resolves to loopback, and says so", async () => {
    const r = await get("http://loop.test:5432/");
    expect(r.status).toBe(403);
    expect(r.body).toContain("resolves only to addresses no sandbox may reach");
    expect(await connectThrough("loop.test:6379")).toMatch(/^HTTP\/1\.1 403 /);
  });

  it("answers 502 for an allowed name that does not resolve", async () => {
    const r = await get("http://gone.test/");
    expect(r.status).toBe(502);
    expect(r.body).toContain("could not resolve gone.test (ENOTFOUND)");
  });

  it("refuses literal addresses outside the ranges, and traffic from unknown addresses", async () => {
    expect((await get("http://192.0.2.1/")).status).toBe(403);
    expect(await connectThrough("[2001:db8::1]:443")).toMatch(/^HTTP\/1\.1 403 /);
    known = false;
    try {
      const r = await get("http://loop.test/");
      expect(r.status).toBe(403);
      expect(r.body).toContain("not a sandbox with an allow-list");
    } finally {
      known = true;
    }
  });

  it("answers what is not a proxy request with a clear 400", async () => {
    const r = await get("/just-a-path");
    expect(r.status).toBe(400);
    expect(r.body).toContain("send absolute URLs");
    expect(await connectThrough("no-port")).toMatch(/^HTTP\/1\.1 400 /);
  });
});

describe("egress proxy with a list that covers everything", () => {
  // A host service on all interfaces, and one of the host's own non-loopback addresses.
  const own = readHostAddresses().find(
    (a) => /^\d+\.\d+\.\d+\.\d+$/.test(a) && !a.startsWith("127."),
  );
  const hex = (ip: string) => {
    const [a = 0, b = 0, c = 0, d = 0] = ip.split(".").map(Number);
    return `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  };
  let wide: EgressProxy;
  let hits = 0;
  let listing: "ok" | "fails" = "ok";
  const host = http.createServer((_q, s) => {
    hits++;
    s.end("host-secret");
  });
  let hostPort = 0;

  beforeAll(async () => {
    await new Promise<void>((r) => host.listen(0, "0.0.0.0", r));
    hostPort = (host.address() as net.AddressInfo).port;
    wide = new EgressProxy({
      identify: () =>
        Promise.resolve({
          sandboxId: "vm_wide",
          allow: compileAllowList(["0.0.0.0/0", "::/0", "own.test", "sib.test"]),
        }),
      lookup: (name) =>
        Promise.resolve(
          name === "own.test" && own ? [hex(own), `::ffff:${own}`] : ["198.51.100.7"],
        ),
      // Stands in for the backend's sandbox networks.
      sandboxNetworks: () =>
        listing === "ok"
          ? Promise.resolve(compileAddressSet(["198.51.100.0/24"]))
          : Promise.reject(new Error("engine down")),
    });
    await wide.listen("127.0.0.1", 0);
  });

  afterAll(async () => {
    await wide.close();
    await new Promise((r) => host.close(r));
  });

  const fetchVia = (target: string) => get(target, wide.address?.port ?? 0);
  const tunnelVia = (target: string) => connectThrough(target, wide.address?.port ?? 0);

  it.skipIf(own === undefined)(
    "refuses this host in every notation of its address, literal or resolved",
    async () => {
      const address = own ?? "";
      for (const target of [
        `http://${address}:${hostPort}/`,
        `http://[::ffff:${address}]:${hostPort}/`,
        `http://[${hex(address)}]:${hostPort}/`,
        `http://[0:0:0:0:0:ffff:${hex(address).slice(7)}]:${hostPort}/`,
        `http://own.test:${hostPort}/`,
      ]) {
        const r = await fetchVia(target);
        expect(r.status, target).toBe(403);
        expect(r.body, target).not.toContain("host-secret");
      }
      for (const target of [`[${hex(address)}]:${hostPort}`, `own.test:${hostPort}`]) {
        expect(await tunnelVia(target), target).toMatch(/^HTTP\/1\.1 403 /);
      }
      expect(hits).toBe(0);
    },
  );

  it("refuses the sandbox networks, and refuses everything when it cannot list them", async () => {
    for (const target of [
      "http://198.51.100.7/",
      "http://[::ffff:c633:6407]/",
      "http://sib.test/",
    ]) {
      const r = await fetchVia(target);
      expect(r.status, target).toBe(403);
    }
    expect(await tunnelVia("sib.test:443")).toMatch(/^HTTP\/1\.1 403 /);
    listing = "fails";
    try {
      const r = await fetchVia("http://203.0.113.5/");
      expect(r.status).toBe(502);
      expect(r.body).toContain("cannot tell which addresses are sandboxes");
    } finally {
      listing = "ok";
    }
  });
});

describe("decideEgress and parseAuthority", () => {
  it("parse CONNECT targets, IPv6 in brackets, and reject bad ports", () => {
    expect(parseAuthority("Example.com:443")).toEqual({ host: "example.com", port: 443 });
    expect(parseAuthority("[2001:db8::1]:8443")).toEqual({ host: "2001:db8::1", port: 8443 });
    expect(parseAuthority("example.com:0")).toBeUndefined();
    expect(parseAuthority("example.com:70000")).toBeUndefined();
    expect(parseAuthority("example.com")).toBeUndefined();
  });

  it("passes an allowed literal address through unresolved", async () => {
    const d = await decideEgress(compileAllowList(["10.0.0.0/8"]), "10.1.2.3", lookup);
    expect(d).toEqual({ ok: true, addresses: ["10.1.2.3"] });
  });

  it("connects to the address it checked, in its plain form", async () => {
    const d = await decideEgress(compileAllowList(["10.0.0.0/8"]), "::ffff:a01:203", lookup);
    expect(d).toEqual({ ok: true, addresses: ["10.1.2.3"] });
  });
});
