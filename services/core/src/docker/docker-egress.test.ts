import { randomBytes } from "node:crypto";
import http from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgentBundle } from "../agent/build-agent.js";
import { waitForAgent, type AgentClient } from "../agent/host/agent-client.js";
import { detectBackends } from "../backends/detect-backends.js";
import { DEFAULT_BASE_IMAGE, IMAGE_PATHS, buildBaseImage } from "../image/build-base-image.js";
import { DockerBackend } from "./docker-backend.js";
import type { SandboxSpec } from "./sandbox-backend.js";

/*
 * Egress allow-lists against the real engine. All traffic stays between this test's own
 * containers and this host: the "internet" is a container on the test's own allow-all bridge
 * running an HTTP server, and names resolve through the test's table, never a real resolver.
 * Destinations outside the lists are refused by the proxy before anything is sent.
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

const SERVER = `require("http").createServer((q, s) => s.end("target says hi " + q.method + " " + q.url)).listen(8080)`;

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
  let hostServer: http.Server;
  let hostPort: number;
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

  beforeAll(async () => {
    const agent = await buildAgentBundle();
    await buildBaseImage({ agentFile: agent.path, cacheDir: CACHE_DIR, tag: DEFAULT_BASE_IMAGE });
    socketRoot = await mkdtemp(path.join(tmpdir(), "aeth-eg-"));
    backend = newBackend();
    // The destination: a server in a container of this test, on its allow-all bridge.
    const target = spec({ egress: "allow-all", command: [IMAGE_PATHS.node, "-e", SERVER] });
    await backend.create(target);
    await backend.start(target.sandboxId);
    const info = await backend.docker.getContainer(`aetherium-${target.sandboxId}`).inspect();
    targetIp = info.NetworkSettings.Networks[openNetwork]?.IPAddress ?? "";
    expect(targetIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    for (const n of ["target.test", "api.svc.test", "svc.test"]) names.set(n, targetIp);
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
    await backend?.docker
      .getNetwork(openNetwork)
      .remove()
      .catch(() => {});
    await new Promise((r) => (hostServer ? hostServer.close(r) : r(undefined)));
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

  it("never reaches the host, even when a range in the list covers its address", async () => {
    hostServer = http.createServer((_q, s) => s.end("host service"));
    await new Promise<void>((r) => hostServer.listen(0, "0.0.0.0", r));
    hostPort = (hostServer.address() as { port: number }).port;
    const c = await sandbox(["172.16.0.0/12", "192.168.0.0/16", "10.0.0.0/8"]);
    gateway = (
      await sh(c, "awk '$2 == \"00000000\" { print $3 }' /proc/net/route | head -1")
    ).out.trim();
    // /proc/net/route holds the gateway as little-endian hex.
    gateway = (gateway.match(/../g) ?? [])
      .reverse()
      .map((h) => parseInt(h, 16))
      .join(".");
    expect(gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const viaProxy = await sh(c, `curl -sS -m 10 http://${gateway}:${hostPort}/`);
    expect(viaProxy.out).toContain("an address no sandbox may reach");
    const direct = await sh(c, `curl -sS -m 3 --noproxy '*' http://${gateway}:${hostPort}/`);
    expect(direct.exitCode).not.toBe(0);
    expect(direct.out).not.toContain("host service");
    // The allowed range still works for what it covers.
    expect((await sh(c, `curl -sS -m 10 http://${targetIp}:8080/range`)).out).toBe(
      "target says hi GET /range",
    );
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
