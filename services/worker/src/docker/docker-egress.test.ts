import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgentBundle } from "../image/build-agent.js";
import type { AgentClient } from "../agent-client/agent-client.js";
import { waitForAgent } from "../agent-client/wait-for-agent.js";
import { detectBackends } from "../backends/detect-backends.js";
import { buildBaseImage } from "../image/build-base-image.js";
import { unisolateBridge } from "../network/host-firewall.js";
import { DockerBackend } from "./docker-backend.js";
import type { SandboxSpec } from "../backends/sandbox-backend.js";
import { DEFAULT_BASE_IMAGE } from "@aetherium/core";
import { IMAGE_PATHS } from "../image/image-layout.js";

/*
 * Egress allow-lists and the host's isolation against the real engine. All traffic stays between
 * this test's own containers, its own network namespace and this host: the "internet" is an HTTP
 * server in a namespace of the test, one veth hop from the host (Docker's isolation rules would
 * drop a container on another Docker network), and names resolve through the test's table, never
 * a real resolver. Destinations outside the lists are refused by the proxy before anything is sent.
 */
const CACHE_DIR = path.resolve(import.meta.dirname, "../../../../.aetherium/cache/image");
const probe = (await detectBackends()).find((b) => b.backend === "docker");
const dockerAvailable = probe?.available === true && process.getuid?.() === 0;

const TEST_LABEL = "aetherium.test-id";
const runId = randomBytes(3).toString("hex");
const openNetwork = `aet-a-${runId}`;
const egressNetwork = `aet-e-${runId}`;
const proxyPort = 20_000 + Math.floor(Math.random() * 20_000);
let seq = 0;
const run = promisify(execFile);

// The "internet": a namespace with one address, routed through a veth pair from the host.
const internetNs = `aetinet-${runId}`;
const hostVeth = `aetih${runId}`;
const nsVeth = `aetin${runId}`;
const internetNet = `198.18.${Math.floor(Math.random() * 256)}`;

const SERVER = `require("http").createServer((q, s) => s.end("target says hi " + q.method + " " + q.url)).listen(8080)`;
const SIBLING = `require("http").createServer((q, s) => s.end("sibling-secret")).listen(8000)`;

/** `a.b.c.d` as `::ffff:hhhh:hhhh`, the form the URL parser gives `[::ffff:a.b.c.d]`. */
const hexMapped = (ip: string) => {
  const [a = 0, b = 0, c = 0, d = 0] = ip.split(".").map(Number);
  return `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
};

function listen(server: http.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve((server.address() as { port: number }).port));
  });
}

/** The test's DNS: names this test gave its own container. */
const names = new Map<string, string>();
const looked: string[] = [];
const lookup = (host: string): Promise<string[]> => {
  looked.push(host);
  const ip = names.get(host);
  return ip
    ? Promise.resolve([ip])
    : Promise.reject(Object.assign(new Error("not found"), { code: "ENOTFOUND" }));
};

function spec(overrides: Partial<SandboxSpec>): SandboxSpec {
  return {
    sandboxId: `eg-${runId}-${++seq}`,
    workerId: `test-worker-${runId}`,
    image: DEFAULT_BASE_IMAGE,
    vcpus: 1,
    memoryMb: 256,
    labels: { [TEST_LABEL]: runId },
    ...overrides,
  };
}

async function sh(
  client: AgentClient,
  script: string,
): Promise<{ exitCode: number | null; out: string }> {
  const chunks: Buffer[] = [];
  const r = await client.exec(
    { command: "/bin/sh", args: ["-c", script] },
    { onStdout: (d) => void chunks.push(d), onStderr: (d) => void chunks.push(d) },
  );
  return { exitCode: r.exitCode, out: Buffer.concat(chunks).toString() };
}

describe.skipIf(!dockerAvailable)("egress allow-lists on Docker (real dockerd)", () => {
  let socketRoot: string;
  let backend: DockerBackend;
  let targetIp: string;
  let gateway: string;
  let openGateway: string;
  let dockerGateway: string | undefined;
  let siblingIp: string;
  let egressSiblingIp: string;
  let internet: ChildProcess | undefined;
  const hostSecret = (_q: http.IncomingMessage, s: http.ServerResponse) => s.end("host-secret");
  // A host service on all interfaces, one only on the allow-all bridge's address, and one only
  // on Docker's default bridge (no carrier: no container uses it).
  const hostServer = http.createServer(hostSecret);
  const bridgeServer = http.createServer(hostSecret);
  const docker0Server = http.createServer(hostSecret);
  let hostPort: number;
  let bridgePort: number;
  let docker0Port: number | undefined;
  const clients: AgentClient[] = [];

  /** A backend on this test's networks and proxy port (one per "worker process"). */
  const newBackend = () =>
    new DockerBackend({
      socketRoot,
      defaultImage: DEFAULT_BASE_IMAGE,
      network: openNetwork,
      egressNetwork,
      egressProxyPort: proxyPort,
      egressLookup: lookup,
    });

  async function sandbox(allow: string[]): Promise<AgentClient> {
    const s = spec({ egress: { allow } });
    await backend.create(s);
    await backend.start(s.sandboxId);
    const client = await waitForAgent(backend.agentSocketPath(s.sandboxId), 30_000);
    clients.push(client);
    return client;
  }

  async function serverSandbox(
    egress: SandboxSpec["egress"],
    network: string,
    script: string,
  ): Promise<string> {
    const s = spec({ egress, command: [IMAGE_PATHS.node, "-e", script] });
    await backend.create(s);
    await backend.start(s.sandboxId);
    const info = await backend.docker.getContainer(`aetherium-${s.sandboxId}`).inspect();
    const ip = info.NetworkSettings.Networks[network]?.IPAddress ?? "";
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    return ip;
  }

  beforeAll(async () => {
    const agent = await buildAgentBundle();
    await buildBaseImage({ agentFile: agent.path, cacheDir: CACHE_DIR, tag: DEFAULT_BASE_IMAGE });
    socketRoot = await mkdtemp(path.join(tmpdir(), "aeth-eg-"));
    backend = newBackend();

    // The destination standing in for the internet.
    const ip = (...args: string[]) => run("ip", args);
    await ip("netns", "add", internetNs);
    await ip("link", "add", hostVeth, "type", "veth", "peer", "name", nsVeth, "netns", internetNs);
    await ip("addr", "add", `${internetNet}.1/30`, "dev", hostVeth);
    await ip("link", "set", hostVeth, "up");
    await ip("-n", internetNs, "addr", "add", `${internetNet}.2/30`, "dev", nsVeth);
    await ip("-n", internetNs, "link", "set", nsVeth, "up");
    await ip("-n", internetNs, "link", "set", "lo", "up");
    await ip("-n", internetNs, "route", "add", "default", "via", `${internetNet}.1`);
    internet = spawn("ip", ["netns", "exec", internetNs, process.execPath, "-e", SERVER], {
      stdio: "ignore",
    });
    targetIp = `${internetNet}.2`;
    for (const n of ["target.test", "api.svc.test", "svc.test"]) names.set(n, targetIp);

    // Other sandboxes, each serving a secret: one allow-all, one with an allow-list.
    siblingIp = await serverSandbox("allow-all", openNetwork, SIBLING);
    egressSiblingIp = await serverSandbox({ allow: [] }, egressNetwork, SIBLING);
    const open = (await backend.docker.getNetwork(openNetwork).inspect()) as {
      IPAM?: { Config?: { Gateway?: string }[] };
    };
    openGateway = open.IPAM?.Config?.find((c) => c.Gateway)?.Gateway ?? "";
    expect(openGateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const bridge = (await backend.docker.getNetwork("bridge").inspect()) as {
      IPAM?: { Config?: { Gateway?: string }[] };
    };
    dockerGateway = bridge.IPAM?.Config?.find((c) => c.Gateway)?.Gateway;

    hostPort = await listen(hostServer, "0.0.0.0");
    bridgePort = await listen(bridgeServer, openGateway);
    if (dockerGateway !== undefined) {
      docker0Port = await listen(docker0Server, dockerGateway).catch(() => undefined);
    }
    for (let i = 0; i < 100; i++) {
      const up = await fetch(`http://${targetIp}:8080/`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      await sleep(100);
    }
  }, 600_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const s of (await backend?.listManaged({ label: `${TEST_LABEL}=${runId}` })) ?? []) {
      await backend.remove(s.sandboxId);
    }
    await backend?.egress.remove();
    await unisolateBridge(openNetwork);
    await backend?.docker
      .getNetwork(openNetwork)
      .remove()
      .catch(() => {});
    internet?.kill("SIGKILL");
    // Deleting the namespace deletes its end of the veth pair, and with it the host's end.
    await run("ip", ["netns", "del", internetNs]).catch(() => {});
    await run("ip", ["link", "del", hostVeth]).catch(() => {});
    for (const server of [hostServer, bridgeServer, docker0Server]) {
      await new Promise((r) => (server.listening ? server.close(r) : r(undefined)));
    }
    if (socketRoot !== undefined) await rm(socketRoot, { recursive: true, force: true });
  }, 120_000);

  it("reaches an allowed address through the proxy, plain and tunnelled, and nothing directly", async () => {
    const c = await sandbox([targetIp]);
    const plain = await sh(c, `curl -sS -m 10 http://${targetIp}:8080/plain`);
    expect(plain).toEqual({ exitCode: 0, out: "target says hi GET /plain" });
    // -p: a CONNECT tunnel, what HTTPS and other protocols go through.
    const tunnel = await sh(c, `curl -sS -m 10 -p http://${targetIp}:8080/tunnel`);
    expect(tunnel).toEqual({ exitCode: 0, out: "target says hi GET /tunnel" });
    // Around the proxy there is no way out: the bridge is internal.
    const direct = await sh(c, `curl -sS -m 3 --noproxy '*' http://${targetIp}:8080/direct`);
    expect(direct.exitCode).not.toBe(0);
    expect(direct.out).not.toContain("target says hi");
  }, 120_000);

  it("refuses what the list does not name, before anything is resolved or sent", async () => {
    const c = await sandbox([targetIp]);
    looked.length = 0;
    const other = await sh(
      c,
      `curl -sS -m 10 -o /dev/null -w '%{http_code}' http://target.test:8080/; echo; ` +
        `curl -sS -m 10 -D - -o /dev/null http://10.11.12.13/ | grep -i x-aetherium-egress`,
    );
    expect(other.out).toMatch(/^403\n/);
    expect(other.out).toMatch(/x-aetherium-egress: refused/i);
    expect(looked).toEqual([]);
    // No DNS of its own either: names are resolved by the proxy, for allowed names only.
    expect((await sh(c, "getent hosts target.test")).exitCode).not.toBe(0);
  }, 120_000);

  it("matches names and wildcards through the proxy's resolver, but not a wildcard's apex", async () => {
    const c = await sandbox(["target.test", "*.svc.test"]);
    looked.length = 0;
    expect(await sh(c, "curl -sS -m 10 http://target.test:8080/name")).toEqual({
      exitCode: 0,
      out: "target says hi GET /name",
    });
    expect(await sh(c, "curl -sS -m 10 -p http://api.svc.test:8080/wild")).toEqual({
      exitCode: 0,
      out: "target says hi GET /wild",
    });
    const apex = await sh(c, "curl -sS -m 10 -o /dev/null -w '%{http_code}' http://svc.test:8080/");
    expect(apex.out).toBe("403");
    expect(looked.sort()).toEqual(["api.svc.test", "target.test"]);
  }, 120_000);

  it("never reaches the host nor another sandbox, in any notation, even when a range in the list covers it", async () => {
    const c = await sandbox([
      "172.16.0.0/12",
      "192.168.0.0/16",
      "10.0.0.0/8",
      "198.18.0.0/15",
      "host.test",
      "mapped.test",
      "sib.test",
    ]);
    gateway = (
      await sh(c, "awk '$2 == \"00000000\" { print $3 }' /proc/net/route | head -1")
    ).out.trim();
    // /proc/net/route holds the gateway as little-endian hex.
    gateway = (gateway.match(/../g) ?? [])
      .reverse()
      .map((h) => parseInt(h, 16))
      .join(".");
    expect(gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    names.set("host.test", gateway);
    names.set("mapped.test", `::ffff:${gateway}`);
    names.set("sib.test", siblingIp);
    const targets = [
      `http://${gateway}:${hostPort}/`,
      `http://[::ffff:${gateway}]:${hostPort}/`,
      `http://[${hexMapped(gateway)}]:${hostPort}/`,
      `http://host.test:${hostPort}/`,
      `http://mapped.test:${hostPort}/`,
      `http://${openGateway}:${bridgePort}/`,
      `http://[${hexMapped(openGateway)}]:${bridgePort}/`,
      `http://${siblingIp}:8000/`,
      `http://[${hexMapped(siblingIp)}]:8000/`,
      `http://sib.test:8000/`,
      `http://${egressSiblingIp}:8000/`,
      ...(docker0Port === undefined || dockerGateway === undefined
        ? []
        : [`http://${dockerGateway}:${docker0Port}/`]),
    ];
    for (const target of targets) {
      // Plain and through a CONNECT tunnel (-p): both are refused by the proxy, with its reason.
      const plain = await sh(c, `curl -sS -m 10 -w ' %{http_code}' ${target}`);
      expect(plain.out, target).toMatch(/no sandbox may reach.* 403$/s);
      const tunnel = await sh(c, `curl -sS -m 10 -p -w ' %{http_connect}' ${target}`);
      expect(tunnel.out, `-p ${target}`).toMatch(/ 403$/);
      for (const r of [plain, tunnel]) expect(r.out).not.toMatch(/host-secret|sibling-secret/);
    }
    const direct = await sh(c, `curl -sS -m 3 --noproxy '*' http://${gateway}:${hostPort}/`);
    expect(direct.exitCode).not.toBe(0);
    expect(direct.out).not.toContain("host-secret");
    // The allowed range still works for what it covers.
    expect((await sh(c, `curl -sS -m 10 http://${targetIp}:8080/range`)).out).toBe(
      "target says hi GET /range",
    );
  }, 180_000);

  it("lets an allow-all sandbox reach the outside world, but no service of the host", async () => {
    const s = spec({ egress: "allow-all" });
    await backend.create(s);
    await backend.start(s.sandboxId);
    const c = await waitForAgent(backend.agentSocketPath(s.sandboxId), 30_000);
    clients.push(c);
    expect(await sh(c, `curl -sS -m 10 http://${targetIp}:8080/out`)).toEqual({
      exitCode: 0,
      out: "target says hi GET /out",
    });
    const hostTargets = [
      `http://${openGateway}:${bridgePort}/`,
      `http://${openGateway}:${hostPort}/`,
      ...(docker0Port === undefined || dockerGateway === undefined
        ? []
        : [`http://${dockerGateway}:${docker0Port}/`, `http://${dockerGateway}:${hostPort}/`]),
      // The host's end of the "internet" link is a host address too.
      `http://${internetNet}.1:${hostPort}/`,
    ];
    for (const target of hostTargets) {
      const r = await sh(c, `curl -sS -m 5 ${target}`);
      expect(r.exitCode, target).not.toBe(0);
      expect(r.out, target).not.toContain("host-secret");
    }
    // The host still reaches into the bridge: its own connections get their replies.
    expect(await fetch(`http://${siblingIp}:8000/`).then((r) => r.text())).toBe("sibling-secret");
  }, 120_000);

  it("keeps serving when the proxy's process goes away and a restarted worker's takes over", async () => {
    const c = await sandbox(["target.test"]);
    const second = newBackend();
    try {
      // A second worker on the host, as after a restart: listing its sandboxes (what reconcile
      // does first) finds allow-list ones and brings its proxy up; the port is taken, so it
      // stands by until the first goes away.
      await second.list();
      await backend.egress.close();
      let out = "";
      for (let i = 0; i < 40 && !out.includes("target says hi"); i++) {
        out = (await sh(c, "curl -sS -m 5 http://target.test:8080/after")).out;
        if (!out.includes("target says hi")) await sleep(250);
      }
      // The policy came from the container's label, not from the first process's memory.
      expect(out).toBe("target says hi GET /after");
      expect((await sh(c, "curl -sS -m 5 -o /dev/null -w '%{http_code}' http://x.test/")).out).toBe(
        "403",
      );
    } finally {
      await second.close();
    }
  }, 120_000);
});
