import { createHash, randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import {
  AetheriumError,
  ConflictError,
  createLogger,
  InMemoryEventBus,
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
} from "@aetherium/common";
import { useTestDatabase } from "@aetherium/testing";
import type { ExecServerMessage, VmBackend } from "@aetherium/types";
import {
  sandboxTestBackends,
  type OpenedTestBackend,
  type SandboxTestBackend,
} from "../testing/sandbox-test-backends.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import {
  toExecution,
  toWorker,
  InProcessJobQueue,
  openDatabase,
  type DatabaseHandle,
  Migrator,
  createRepositories,
  type Repositories,
  DataPlaneClient,
  dataPlaneTargetFor,
  relayExecSockets,
  type DataPlaneTarget,
  BufferWatermark,
} from "@aetherium/core";
import { SandboxManager } from "../sandbox/sandbox-manager.js";
import { SandboxManagers } from "../sandbox/sandbox-managers.js";
import { WorkerDaemon } from "../daemon/worker-daemon.js";

// The real chain: DataPlaneClient → the worker daemon's internal port → SandboxManager → the
// bundled agent in a sandbox, with the rows in a fresh PostgreSQL database. The same suite runs
// on every backend this host has (a container on dockerd, a QEMU microVM), one sandbox each: a
// user must not be able to tell them apart by how exec, stdin, signals, terminals, files and
// timeouts behave.
const backends = await sandboxTestBackends();
for (const b of backends) {
  if (!b.ok) console.warn(`skipping data-plane tests on ${b.kind}: ${b.detail}`);
}
const MiB = 1024 * 1024;

/** Collects an exec socket's messages until it closes. */
function collect(ws: WebSocket): {
  messages: ExecServerMessage[];
  closed: Promise<void>;
  next(type: ExecServerMessage["type"]): Promise<ExecServerMessage>;
  stdout(): string;
} {
  const messages: ExecServerMessage[] = [];
  const waiters: { type: string; resolve: (m: ExecServerMessage) => void }[] = [];
  ws.on("message", (raw) => {
    const msg = JSON.parse(textOf(raw)) as ExecServerMessage;
    messages.push(msg);
    for (const w of waiters.filter((w) => w.type === msg.type)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(msg);
    }
  });
  const closed = once(ws, "close").then(() => undefined);
  return {
    messages,
    closed,
    next: (type) => {
      const seen = messages.find((m) => m.type === type);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ type, resolve });
        void closed.then(() => reject(new Error(`socket closed before ${type}`)));
      });
    },
    stdout: () =>
      messages
        .filter((m) => m.type === "stdout")
        .map((m) => Buffer.from((m as { data: string }).data, "base64").toString("utf8"))
        .join(""),
  };
}

const textOf = (raw: RawData): string =>
  (Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as Buffer)).toString("utf8");
const send = (ws: WebSocket, msg: unknown): void => ws.send(JSON.stringify(msg));
const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");

async function waitUntil(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const pg = useTestDatabase();

for (const backendCase of backends) {
  describe.skipIf(!backendCase.ok)(
    `data plane on a real worker and a ${backendCase.kind} sandbox`,
    () => dataPlaneSuite(backendCase),
  );
}

function dataPlaneSuite(backendCase: SandboxTestBackend): void {
  const kind: VmBackend = backendCase.kind;
  const workerId = `dp-${randomBytes(4).toString("hex")}`;
  let opened: OpenedTestBackend;
  let TAG: string;
  const bus = new InMemoryEventBus();
  const logger = createLogger({ service: "test", level: "silent", format: "json" });
  // A whole upload is one request: through a VM under TCG on a busy host it can take a minute.
  const client = new DataPlaneClient({ timeoutMs: kind === "docker" ? 20_000 : 90_000 });
  let handle: DatabaseHandle;
  let repos: Repositories;
  let manager: SandboxManager;
  let daemon: WorkerDaemon;
  let vmId: string;
  let target: DataPlaneTarget;

  beforeAll(async () => {
    opened = await backendCase.open();
    TAG = opened.image;
    handle = await openDatabase({ url: pg.current.url });
    await new Migrator(handle.db).up();
    repos = createRepositories(handle.db);
    manager = new SandboxManager({
      backend: opened.backend,
      repos,
      bus,
      workerId,
      logger,
      agentReadyTimeoutMs: opened.agentReadyTimeoutMs,
    });
    daemon = new WorkerDaemon({
      id: workerId,
      backends: [kind],
      capacity: { vcpus: 4, memoryMb: 4096, maxVms: 4 },
      heartbeatMs: 1000,
      internal: { host: "127.0.0.1", port: 0 },
      queue: new InProcessJobQueue({ logger }),
      repos,
      bus,
      handlers: {},
      logger,
      dataPlane: { managers: new SandboxManagers([manager], repos) },
    });
    await daemon.start();
    const row = await repos.vms.create({
      name: `dp-${kind}`,
      backend: kind,
      image: TAG,
      vcpus: 1,
      memoryMb: 512,
    });
    await manager.create(row.id);
    vmId = row.id;
    target = await dataPlaneTargetFor(repos, vmId);
  }, 300_000);

  afterAll(async () => {
    client.close();
    await daemon?.stop(2000);
    await manager?.close();
    if (opened !== undefined) {
      for (const s of await opened.backend.list({ workerId })) {
        await opened.backend.remove(s.sandboxId);
      }
      await opened.close();
    }
    await handle?.close();
  }, 60_000);

  it("registers a random internal token that the public Worker shape never shows", async () => {
    const row = await repos.workers.get(workerId);
    expect(row?.internalToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(target).toEqual({
      workerId,
      address: daemon.address,
      token: row?.internalToken,
    });
    expect(JSON.stringify(toWorker(row!))).not.toContain(row!.internalToken!);
    const health = await fetch(`${daemon.address}/healthz`);
    expect(health.status).toBe(200);
  });

  it("executes commands and records them; a non-zero exit is a result; stdin works", async () => {
    const echo = await client.execute(target, vmId, { command: "echo hello; echo oops >&2" });
    expect(echo).toMatchObject({ vmId, exitCode: 0, stdout: "hello\n", stderr: "oops\n" });
    // The answer does not wait for the row's completion write.
    await manager.settled();
    expect(await repos.executions.get(echo.id)).toMatchObject({ exitCode: 0, stdout: "hello\n" });
    const three = await client.execute(target, vmId, { command: "exit 3" });
    expect(three.exitCode).toBe(3);
    expect(three.error).toBeNull();
    const piped = await client.execute(target, vmId, {
      command: "sh",
      args: ["-c", "tr a-z A-Z"],
      stdin: "piped text",
    });
    expect(piped.stdout).toBe("PIPED TEXT");
  });

  it("lets the sandbox user `user` reach root with passwordless sudo", async () => {
    // Docker sandboxes allow setuid for this (container-spec.ts); QEMU guests have their kernel.
    const sudo = await client.execute(target, vmId, {
      command: "id -un; sudo -n whoami",
      user: "user",
    });
    expect(sudo).toMatchObject({ exitCode: 0, stdout: "user\nroot\n" });
  });

  it("answers bad input, unknown sandboxes and wrong tokens with the matching errors", async () => {
    const bad = await client
      .execute(target, vmId, { command: "ls", cwd: "relative" })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(AetheriumError);
    expect(bad).toMatchObject({ code: "bad_request", httpStatus: 400 });
    expect((bad as AetheriumError).details).toEqual([{ path: "cwd", message: expect.any(String) }]);

    const unknown = randomUUID();
    const missing = await client
      .execute(target, unknown, { command: "true" })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as Error).message).toContain(unknown);
    await expect(dataPlaneTargetFor(repos, unknown)).rejects.toBeInstanceOf(NotFoundError);

    const wrong = { ...target, token: "not-the-token" };
    await expect(client.execute(wrong, vmId, { command: "true" })).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    await expect(client.listFiles(wrong, vmId, "/")).rejects.toMatchObject({ httpStatus: 401 });
    await expect(client.openExec(wrong, vmId)).rejects.toBeInstanceOf(UnauthorizedError);
    const raw = await fetch(`${daemon.address}/internal/v1/vms/${vmId}/files/list?path=/`);
    expect(raw.status).toBe(401);
    expect(await raw.json()).toMatchObject({
      error: { code: "unauthorized" },
      requestId: expect.any(String),
    });

    const stopped = await repos.vms.create({
      name: `dp-pending-${kind}`,
      backend: kind,
      image: TAG,
    });
    await expect(dataPlaneTargetFor(repos, stopped.id)).rejects.toBeInstanceOf(ConflictError);
    await expect(client.execute(target, stopped.id, { command: "true" })).rejects.toBeInstanceOf(
      ConflictError,
    );

    // A sandbox another worker runs: that worker's business (409 here); an offline one: 503.
    await repos.workers.register({ id: `${workerId}-gone`, hostname: "h", address: "a" });
    await repos.workers.setStatus(`${workerId}-gone`, "offline");
    const elsewhere = await repos.vms.create({
      name: `dp-elsewhere-${kind}`,
      backend: kind,
      image: TAG,
      status: "running",
      workerId: `${workerId}-gone`,
    });
    await expect(dataPlaneTargetFor(repos, elsewhere.id)).rejects.toBeInstanceOf(UnavailableError);
    await expect(client.execute(target, elsewhere.id, { command: "true" })).rejects.toBeInstanceOf(
      ConflictError,
    );
    await expect(client.openExec(target, elsewhere.id)).rejects.toBeInstanceOf(ConflictError);
  });

  it("writes, reads, lists and removes files, binary and multi-MiB, streamed", async () => {
    const binary = Buffer.from(Array.from({ length: 256 * 4 }, (_, i) => i % 256));
    const put = await client.writeFile(target, vmId, "/tmp/dp/deep/bin.dat", binary, {
      mode: 0o600,
    });
    expect(put).toEqual({ path: "/tmp/dp/deep/bin.dat", size: binary.length });
    const got = await client.readFile(target, vmId, "/tmp/dp/deep/bin.dat");
    expect(got.size).toBe(binary.length);
    expect(Buffer.concat(await got.body.toArray())).toEqual(binary);

    // 24 MiB of random bytes, sent as a stream of 64 KiB pieces, never one buffer on the wire.
    // Through a VM under TCG a serial port moves a few MiB a second: fewer of them there.
    const big = randomBytes((kind === "docker" ? 24 : 4) * MiB);
    const pieces = function* () {
      for (let i = 0; i < big.length; i += 64 * 1024) yield big.subarray(i, i + 64 * 1024);
    };
    const bigPut = await client.writeFile(target, vmId, "/tmp/dp/big.bin", Readable.from(pieces()));
    expect(bigPut.size).toBe(big.length);
    const bigGot = await client.readFile(target, vmId, "/tmp/dp/big.bin");
    expect(bigGot.size).toBe(big.length);
    const hash = createHash("sha256");
    let chunks = 0;
    for await (const c of bigGot.body) {
      hash.update(c as Buffer);
      chunks++;
    }
    expect(chunks).toBeGreaterThan(1);
    expect(hash.digest("hex")).toBe(createHash("sha256").update(big).digest("hex"));

    const empty = await client.writeFile(target, vmId, "/tmp/dp/empty", new Uint8Array());
    expect(empty.size).toBe(0);

    const list = await client.listFiles(target, vmId, "/tmp/dp");
    expect(list.path).toBe("/tmp/dp");
    expect(list.entries.map((e) => [e.name, e.type])).toEqual([
      ["big.bin", "file"],
      ["deep", "dir"],
      ["empty", "file"],
    ]);
    expect(list.entries[0]).toMatchObject({ size: big.length, modifiedAt: expect.any(String) });
    const deep = await client.listFiles(target, vmId, "/tmp/dp/deep");
    expect(deep.entries[0]).toMatchObject({ name: "bin.dat", mode: 0o600 });

    await client.removeFile(target, vmId, "/tmp/dp/big.bin");
    await expect(client.readFile(target, vmId, "/tmp/dp/big.bin")).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(client.removeFile(target, vmId, "/tmp/dp")).rejects.toMatchObject({
      code: "conflict",
    });
    await client.removeFile(target, vmId, "/tmp/dp", { recursive: true });
    await expect(client.listFiles(target, vmId, "/tmp/dp")).rejects.toMatchObject({
      httpStatus: 404,
    });
  }, 120_000);

  it("lets a download be read as slowly as its reader wants", async () => {
    const data = randomBytes(8 * MiB);
    await client.writeFile(target, vmId, "/tmp/slow.bin", data);
    // Long enough for the first answer of an agent in a VM under TCG, far shorter than the stall.
    const patienceMs = kind === "docker" ? 300 : 3000;
    const impatient = new DataPlaneClient({ timeoutMs: patienceMs });
    try {
      const file = await impatient.readFile(target, vmId, "/tmp/slow.bin");
      const parts: Buffer[] = [];
      let first = true;
      for await (const chunk of file.body) {
        parts.push(chunk as Buffer);
        // Stalls well past the client's timeout: the worker waits, nothing is cut.
        if (first) await new Promise((r) => setTimeout(r, 3 * patienceMs));
        first = false;
      }
      expect(Buffer.concat(parts).equals(data)).toBe(true);
    } finally {
      impatient.close();
      await client.removeFile(target, vmId, "/tmp/slow.bin");
    }
  }, 120_000);

  it("answers 400 for FIFOs, sockets and devices without wedging, and reads /proc files whole", async () => {
    await manager.exec(vmId, { command: "mkfifo /tmp/dp-fifo" });
    // A socket of its own (the agent's is no file in a VM): a listener that exits without
    // closing leaves its socket file behind.
    const sock = await manager.exec(vmId, {
      command: "node",
      args: ["-e", "require('net').createServer().listen('/tmp/dp-sock', () => process.exit(0))"],
    });
    expect(sock.exitCode).toBe(0);
    for (const p of ["/tmp/dp-fifo", "/tmp/dp-sock", "/dev/zero"]) {
      // More reads at once than the agent has I/O threads: none may block it.
      const answers = await Promise.all(
        Array.from({ length: 5 }, () => client.readFile(target, vmId, p).catch((e: unknown) => e)),
      );
      for (const a of answers) {
        expect(a).toMatchObject({ code: "bad_request", httpStatus: 400 });
        expect((a as Error).message).toMatch(/only regular files/);
      }
    }
    const read = async (p: string) =>
      Buffer.concat(await (await client.readFile(target, vmId, p)).body.toArray()).toString();
    const cpuinfo = await read("/proc/cpuinfo");
    expect(cpuinfo).toMatch(/processor/);
    const hostname = await manager.exec(vmId, { command: "cat /etc/hostname" });
    expect(await read("/etc/hostname")).toBe(hostname.stdout);
  });

  it("refuses relative paths and '..' segments with 400 before reaching the agent", async () => {
    for (const p of ["/tmp/../etc/passwd", "/..", "relative/file", ""]) {
      await expect(client.readFile(target, vmId, p)).rejects.toMatchObject({
        code: "bad_request",
        httpStatus: 400,
      });
      await expect(client.writeFile(target, vmId, p, Buffer.from("x"))).rejects.toMatchObject({
        httpStatus: 400,
      });
    }
    await expect(client.listFiles(target, vmId, "/tmp/..")).rejects.toMatchObject({
      httpStatus: 400,
    });
    await expect(client.removeFile(target, vmId, "/../tmp")).rejects.toMatchObject({
      httpStatus: 400,
    });
  });

  it("streams exec over the WebSocket: stdin, closeStdin, exit code, recorded", async () => {
    const ws = await client.openExec(target, vmId);
    const c = collect(ws);
    send(ws, { type: "start", command: "cat; echo done; exit 4" });
    const started = (await c.next("started")) as { executionId: string };
    send(ws, { type: "stdin", data: b64("line one\n") });
    send(ws, { type: "stdin", data: b64("line two\n") });
    send(ws, { type: "closeStdin" });
    const exit = await c.next("exit");
    await c.closed;
    expect(exit).toMatchObject({ exitCode: 4, signal: null, timedOut: false });
    expect(c.stdout()).toBe("line one\nline two\ndone\n");
    expect(c.messages[0]).toEqual({ type: "started", executionId: started.executionId });
    expect(c.messages.at(-1)?.type).toBe("exit");
    const row = await repos.executions.get(started.executionId);
    expect(row).toMatchObject({ vmId, exitCode: 4, stdout: "line one\nline two\ndone\n" });
  });

  it("holds processes past their stream: attached by tag from another, listed, fed, refused what does not apply", async () => {
    const first = await client.openProcessStream(target, vmId);
    const a = collect(first);
    send(first, {
      type: "start",
      command: "/bin/sh",
      args: ["-c", "read l; echo got:$l; sleep 300"],
      tag: "held-1",
      openStdin: true,
    });
    const { pid } = (await a.next("started")) as unknown as { pid: number };
    // Leaving the stream leaves the process running.
    first.close();
    await a.closed;
    expect(await client.listProcesses(target, vmId)).toContainEqual(
      expect.objectContaining({ pid, tag: "held-1", command: "/bin/sh", pty: false }),
    );
    const dup = await client.openProcessStream(target, vmId);
    const d = collect(dup);
    send(dup, { type: "start", command: "true", tag: "held-1", openStdin: false });
    expect(await d.next("error")).toMatchObject({ code: "conflict" });
    await d.closed;

    const second = await client.openProcessStream(target, vmId);
    const b = collect(second);
    send(second, { type: "attach", process: { tag: "held-1" } });
    expect(await b.next("started")).toEqual({ type: "started", pid });
    await client.controlProcess(target, vmId, {
      process: { pid },
      action: { type: "stdin", data: b64("hi\n") },
    });
    await waitUntil(() => b.stdout().includes("got:hi\n"), "the process's answer");
    await expect(
      client.controlProcess(target, vmId, {
        process: { pid },
        action: { type: "resize", cols: 10, rows: 10 },
      }),
    ).rejects.toBeInstanceOf(ConflictError);
    await client.controlProcess(target, vmId, {
      process: { tag: "held-1" },
      action: { type: "signal", signal: "SIGKILL" },
    });
    expect(await b.next("exit")).toMatchObject({ signal: "SIGKILL" });
    await b.closed;
    expect((await client.listProcesses(target, vmId)).map((p) => p.pid)).not.toContain(pid);
    await expect(
      client.controlProcess(target, vmId, { process: { pid }, action: { type: "closeStdin" } }),
    ).rejects.toBeInstanceOf(NotFoundError);
    const gone = await client.openProcessStream(target, vmId);
    const g = collect(gone);
    send(gone, { type: "attach", process: { pid } });
    expect(await g.next("error")).toMatchObject({ code: "not_found" });
  });

  it("kills on signal, reports errors for bad messages, and runs a PTY that resizes", async () => {
    const ws = await client.openExec(target, vmId);
    const c = collect(ws);
    send(ws, { type: "stdin", data: b64("too early") });
    send(ws, { type: "nonsense" });
    send(ws, { type: "start", command: "sleep", args: ["30"] });
    await c.next("started");
    send(ws, { type: "signal", signal: "SIGKILL" });
    const exit = await c.next("exit");
    await c.closed;
    expect(exit).toMatchObject({ exitCode: 137, signal: "SIGKILL" });
    const errors = c.messages.filter((m) => m.type === "error");
    expect(errors).toHaveLength(2);
    expect(errors.every((e) => (e as { code: string }).code === "bad_request")).toBe(true);

    const pty = await client.openExec(target, vmId);
    const p = collect(pty);
    send(pty, {
      type: "start",
      command: "tty; stty size; read line; stty size",
      pty: { cols: 80, rows: 24 },
    });
    await p.next("started");
    await waitUntil(() => p.stdout().includes("24 80"), "the first stty size");
    send(pty, { type: "resize", cols: 100, rows: 30 });
    // The resize is applied before the input that follows it is written.
    send(pty, { type: "stdin", data: b64("go\n") });
    const ptyExit = await p.next("exit");
    await p.closed;
    expect(ptyExit).toMatchObject({ exitCode: 0 });
    const out = p.stdout();
    expect(out).toMatch(/\/dev\/pts\/\d+/);
    expect(out).toMatch(/24 80/);
    expect(out).toMatch(/30 100/);
  });

  it("gets a signal through while stdin input waits for a command that does not read it", async () => {
    const ws = await client.openExec(target, vmId);
    const c = collect(ws);
    send(ws, { type: "start", command: "sleep 60" });
    await c.next("started");
    // More than a pipe holds: the agent cannot accept it all while nothing reads stdin.
    const blob = b64(Buffer.alloc(1024 * 1024, 0x61));
    for (let i = 0; i < 4; i++) send(ws, { type: "stdin", data: blob });
    send(ws, { type: "signal", signal: "SIGTERM" });
    const exit = await c.next("exit");
    await c.closed;
    expect(exit).toMatchObject({ signal: "SIGTERM", exitCode: 143 });
  });

  it("kills the command when the client goes away, recorded as closed by its client", async () => {
    const ws = await client.openExec(target, vmId);
    const c = collect(ws);
    send(ws, { type: "start", command: "sleep 60" });
    const { executionId } = (await c.next("started")) as { executionId: string };
    ws.terminate();
    await waitUntil(
      async () => (await repos.executions.get(executionId))?.completedAt != null,
      "the abandoned command to be recorded as ended",
    );
    // A deliberate end (a terminal closed), not a failure: no "killed by SIGKILL".
    expect((await repos.executions.get(executionId))?.error).toBe("closed by client");
    expect((await repos.executions.get(executionId))?.pty).toBe(false);

    // An interactive shell whose client closes the socket reads the same.
    const pty = await client.openExec(target, vmId);
    const p = collect(pty);
    send(pty, { type: "start", command: "sh", args: ["-l"], pty: { cols: 80, rows: 24 } });
    const shell = (await p.next("started")) as { executionId: string };
    pty.close(1000, "terminal closed");
    await waitUntil(
      async () => (await repos.executions.get(shell.executionId))?.completedAt != null,
      "the closed shell to be recorded as ended",
    );
    const closedShell = await repos.executions.get(shell.executionId);
    expect(closedShell?.error).toBe("closed by client");
    // Marked interactive, so latency figures can leave the open-shell time out.
    expect(closedShell && toExecution(closedShell).pty).toBe(true);

    // A SIGKILL the client sends itself is still a kill.
    const killed = await client.openExec(target, vmId);
    const k = collect(killed);
    send(killed, { type: "start", command: "sleep 60" });
    const third = (await k.next("started")) as { executionId: string };
    send(killed, { type: "signal", signal: "SIGKILL" });
    await k.closed;
    expect((await repos.executions.get(third.executionId))?.error).toMatch(/killed by SIGKILL/);
  });

  it("reports a timeout over the socket, and kills a command whose HTTP caller gives up", async () => {
    const ws = await client.openExec(target, vmId);
    const c = collect(ws);
    send(ws, { type: "start", command: "sleep 30", timeoutMs: 300 });
    expect(await c.next("exit")).toMatchObject({ timedOut: true });
    await c.closed;

    const aborter = new AbortController();
    const running = client.execute(
      target,
      vmId,
      { command: "sleep 60; echo never" },
      { signal: aborter.signal },
    );
    await waitUntil(
      async () =>
        (await repos.executions.listByVm(vmId)).items.some(
          (e) => e.command === "sleep 60; echo never",
        ),
      "the command to start",
    );
    aborter.abort();
    await expect(running).rejects.toThrow();
    await waitUntil(async () => {
      const row = (await repos.executions.listByVm(vmId)).items.find(
        (e) => e.command === "sleep 60; echo never",
      );
      return row?.completedAt != null && /killed/.test(row.error ?? "");
    }, "the abandoned HTTP command to be killed and recorded");
  });

  it("relays a public socket to the worker's, answering bad client messages itself", async () => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await once(server, "listening");
    const relays: Promise<void>[] = [];
    server.on("connection", (pub) => {
      pub.pause();
      relays.push(
        client.openExec(target, vmId).then((up) => relayExecSockets(pub, up, { logger })),
      );
    });
    try {
      const port = (server.address() as AddressInfo).port;
      const pub = new WebSocket(`ws://127.0.0.1:${port}`);
      const c = collect(pub);
      await once(pub, "open");
      // Sent at once: the relay must not lose what arrives while it dials the worker.
      send(pub, { type: "start", command: "cat" });
      pub.send("{not json");
      send(pub, { type: "stdin", data: "***not base64***" });
      send(pub, { type: "stdin", data: b64("relayed\n") });
      send(pub, { type: "closeStdin" });
      const exit = await c.next("exit");
      await c.closed;
      await Promise.all(relays);
      expect(exit).toMatchObject({ exitCode: 0 });
      expect(c.stdout()).toBe("relayed\n");
      const errors = c.messages.filter((m) => m.type === "error");
      expect(errors).toHaveLength(2);
      expect(errors[0]).toMatchObject({ code: "bad_request" });
    } finally {
      for (const s of server.clients) s.terminate();
      server.close();
    }
  });

  it("holds a slow reader's stream back instead of buffering it: far more than any buffer through a paused client", async () => {
    // Many times the kernel's and the worker's buffers either way; less through a VM under TCG,
    // whose serial port moves a few MiB a second.
    const total = (kind === "docker" ? 200 : 32) * MiB;
    const ws = await client.openExec(target, vmId);
    let received = 0;
    let exit: ExecServerMessage | undefined;
    ws.on("message", (raw) => {
      const msg = JSON.parse(textOf(raw)) as ExecServerMessage;
      if (msg.type === "stdout") received += Buffer.byteLength(msg.data, "base64");
      if (msg.type === "exit") exit = msg;
    });
    const closed = once(ws, "close");
    send(ws, { type: "start", command: `head -c ${total} /dev/zero` });
    await waitUntil(() => received > 0, "the first output");
    ws.pause();
    // The worker fills the kernel's socket buffers, then its own up to the bound, and stops.
    await waitUntil(
      () => daemon.dataPlaneStats().maxBufferedBytes > MiB,
      "the worker to reach its buffering bound",
    );
    const stalledAt = received;
    await new Promise((r) => setTimeout(r, 1000));
    expect(received).toBe(stalledAt);
    expect(daemon.dataPlaneStats().maxBufferedBytes).toBeLessThan(2 * MiB);
    ws.resume();
    await closed;
    expect(received).toBe(total);
    expect(exit).toMatchObject({ exitCode: 0 });
    expect(daemon.dataPlaneStats().maxBufferedBytes).toBeLessThan(2 * MiB);
    const metrics = await (await fetch(`${daemon.address}/metrics`)).text();
    const gauge = /^aetherium_worker_exec_buffered_bytes_max (\d+)/m.exec(metrics);
    expect(Number(gauge?.[1])).toBe(daemon.dataPlaneStats().maxBufferedBytes);
  }, 240_000);

  it("keeps the relay's client buffer bounded for a paused public client", async () => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await once(server, "listening");
    const watermark = new BufferWatermark();
    server.on("connection", (pub) => {
      pub.pause();
      void client
        .openExec(target, vmId)
        .then((up) => relayExecSockets(pub, up, { maxBufferedBytes: MiB, watermark }));
    });
    try {
      const total = (kind === "docker" ? 40 : 16) * MiB;
      const port = (server.address() as AddressInfo).port;
      const pub = new WebSocket(`ws://127.0.0.1:${port}`);
      let received = 0;
      pub.on("message", (raw) => {
        const msg = JSON.parse(textOf(raw)) as ExecServerMessage;
        if (msg.type === "stdout") received += Buffer.byteLength(msg.data, "base64");
      });
      const closed = once(pub, "close");
      await once(pub, "open");
      send(pub, { type: "start", command: `head -c ${total} /dev/zero` });
      await waitUntil(() => received > 0, "the first output");
      pub.pause();
      await waitUntil(() => watermark.max > MiB, "the relay to reach its bound");
      await new Promise((r) => setTimeout(r, 500));
      expect(watermark.max).toBeLessThan(2 * MiB);
      pub.resume();
      await closed;
      expect(received).toBe(total);
      expect(watermark.max).toBeLessThan(2 * MiB);
    } finally {
      for (const s of server.clients) s.terminate();
      server.close();
    }
  }, 120_000);
}
