import { randomBytes } from "node:crypto";
import { access, lstat, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, InMemoryEventBus, type Logger } from "@aetherium/common";
import {
  dockerTestHost,
  ensureSandboxTestImage,
  SANDBOX_TEST_IMAGE,
} from "../testing/sandbox-test-image.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerBackend } from "../docker/docker-backend.js";
import { RUN_DIR_TMPFS_BYTES } from "../docker/run-dir.js";
import {
  openDatabase,
  type DatabaseHandle,
  Migrator,
  createRepositories,
  type Repositories,
} from "@aetherium/core";
import { SandboxManager } from "./sandbox-manager.js";

/*
 * What a sandbox can do to the worker through the directory that holds its agent's socket (it is
 * bind-mounted writable at /run/aetherium inside): point the worker at another sandbox's agent or
 * at any host socket, or fill the host's disk. Real dockerd, the real agent image, and a worker
 * restart modelled as a second SandboxManager on a fresh DockerBackend (nothing remembered).
 */

const TAG = SANDBOX_TEST_IMAGE;
const host = await dockerTestHost({ needsDebootstrap: true });
const canRun = host.ok;
if (!canRun) console.warn(`skipping sandbox isolation tests: ${host.detail}`);

/** A logger that keeps its lines, to check what the worker said about a refusal. */
function recordingLogger(lines: string[]): Logger {
  return createLogger({
    service: "test",
    level: "warn",
    format: "json",
    destination: { write: (line: string) => void lines.push(line) },
  });
}

describe.skipIf(!canRun)("a sandbox and the worker's control channel (real dockerd)", () => {
  const workerId = `test-iso-${randomBytes(4).toString("hex")}`;
  const bus = new InMemoryEventBus();
  const logLines: string[] = [];
  let socketRoot: string;
  let handle: DatabaseHandle;
  let repos: Repositories;
  let backend: DockerBackend;
  let worker: SandboxManager;

  /** A worker process on this host: its own backend and manager, no memory of the last one. */
  const startWorker = (): { backend: DockerBackend; manager: SandboxManager } => {
    const b = new DockerBackend({ socketRoot, defaultImage: TAG });
    const m = new SandboxManager({
      backend: b,
      repos,
      bus,
      workerId,
      logger: recordingLogger(logLines),
      agentReadyTimeoutMs: 30_000,
    });
    return { backend: b, manager: m };
  };

  /** "Restarts" the worker: the old one lets go of its connections, a new one takes over. */
  const restartWorker = async (): Promise<void> => {
    await worker.close();
    await backend.close();
    ({ backend, manager: worker } = startWorker());
  };

  const newSandbox = async (name: string): Promise<string> => {
    const row = await repos.vms.create({
      name,
      backend: "docker",
      image: TAG,
      vcpus: 1,
      memoryMb: 256,
      network: { egress: "deny-all" },
    });
    await worker.create(row.id);
    return row.id;
  };

  const sh = (sandboxId: string, command: string) => worker.exec(sandboxId, { command });

  beforeAll(async () => {
    await ensureSandboxTestImage();
    // Short: the socket path below it must fit in 107 bytes.
    socketRoot = await mkdtemp(path.join(tmpdir(), "aeth-iso-"));
    handle = await openDatabase({ pglite: "memory://" });
    await new Migrator(handle.db).up();
    repos = createRepositories(handle.db);
    await repos.workers.register({ id: workerId, hostname: "test", address: "http://127.0.0.1:1" });
    ({ backend, manager: worker } = startWorker());
  }, 600_000);

  afterAll(async () => {
    await worker?.close();
    if (backend !== undefined) {
      for (const s of await backend.list({ workerId })) await backend.remove(s.sandboxId);
      await backend.close();
    }
    await handle?.close();
    if (socketRoot !== undefined) await rm(socketRoot, { recursive: true, force: true });
  }, 120_000);

  it("a socket swapped for a link to another sandbox's agent never delivers that sandbox's commands there", async () => {
    const a = await newSandbox("iso-a");
    const b = await newSandbox("iso-b");
    const hostB = (await sh(b, "hostname")).stdout.trim();
    // Inside A: the trick of the probe, pointing A's socket at B's agent on the host.
    const planted = await sh(
      a,
      `mv /run/aetherium/agent.sock /run/aetherium/agent.sock.orig && ln -s ${backend.agentSocketPath(b)} /run/aetherium/agent.sock && echo planted`,
    );
    expect(planted.stdout).toBe("planted\n");

    await restartWorker();
    const err = await sh(a, "touch /tmp/planted-from-a; hostname").then(
      (r) => new Error(`the command ran, in ${r.stdout.trim()}`),
      (e: unknown) => e as Error,
    );
    expect(err.message).toMatch(/refusing to connect to the agent .*symbolic link/);
    const logged = logLines.map((l) => JSON.parse(l) as { sandboxId?: string; msg?: string });
    expect(logged).toContainEqual(
      expect.objectContaining({
        sandboxId: a,
        msg: expect.stringMatching(/refused .*agent socket/),
      }),
    );
    // B saw nothing of it, and the restarted worker still drives B (and its token from the engine).
    const inB = await sh(b, "hostname; test -e /tmp/planted-from-a && echo planted || echo clean");
    expect(inB.stdout).toBe(`${hostB}\nclean\n`);
  }, 180_000);

  it("an agent that cannot prove the sandbox's token is refused before anything is sent", async () => {
    const a = await newSandbox("iso-token-a");
    const b = await newSandbox("iso-token-b");
    // Whatever the path tricks, reaching B's agent with A's token fails closed: the handshake.
    const { AgentClient } = await import("../agent-client/agent-client.js");
    const tokenA = await backend.agentToken(a);
    expect(tokenA).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const err = await AgentClient.connect(backend.agentSocketPath(b), { token: tokenA! }).then(
      (c) => {
        c.close();
        return new Error("connected");
      },
      (e: unknown) => e as Error,
    );
    expect(err.name).toBe("AgentAuthError");
    expect(err.message).toMatch(/cannot prove it is this sandbox's agent/);
    // The token never reaches the sandbox's commands' environment.
    expect((await sh(a, "env | grep -c AETHERIUM_AGENT_ || true")).stdout).toBe("0\n");
  }, 180_000);

  it("a socket swapped for a link to any host socket gets no connection from the worker", async () => {
    const a = await newSandbox("iso-host");
    const dir = await mkdtemp(path.join(tmpdir(), "aeth-bait-"));
    const bait = path.join(dir, "bait.sock");
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(bait, resolve));
    try {
      await sh(a, `rm /run/aetherium/agent.sock && ln -s ${bait} /run/aetherium/agent.sock`);
      await restartWorker();
      await expect(sh(a, "echo hi")).rejects.toThrow(/refusing to connect .*symbolic link/);
      // A file op goes the same way: no connection is ever made to the host socket.
      await expect(worker.runningClient(a)).rejects.toThrow(/refusing to connect/);
      expect(connections).toBe(0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it("writing 50 MB into its run directory fails inside and leaves the host directory tiny", async () => {
    const a = await newSandbox("iso-fill");
    const fill = await sh(
      a,
      "dd if=/dev/zero of=/run/aetherium/fill bs=1M count=50 2>&1; echo rc=$?",
    );
    expect(fill.stdout).toMatch(/No space left on device/);
    expect(fill.stdout).not.toMatch(/rc=0/);
    const runDir = backend.hostRunDir(a);
    const names = await readdir(runDir);
    let bytes = 0;
    for (const n of names) bytes += (await lstat(path.join(runDir, n))).size;
    expect(bytes).toBeLessThanOrEqual(RUN_DIR_TMPFS_BYTES);
    // It is a filesystem of its own, not the host's disk (or the /run it shares with dockerd).
    expect((await stat(runDir)).dev).not.toBe((await stat(socketRoot)).dev);
    // Full is not broken: the agent still serves and the sandbox can clean up after itself.
    expect((await sh(a, "rm /run/aetherium/fill && echo ok")).stdout).toBe("ok\n");
    await worker.delete(a);
    await expect(access(runDir)).rejects.toThrow();
  }, 180_000);
});
