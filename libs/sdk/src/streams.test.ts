import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import type { DomainEvent } from "@aetherium/types";
import { base64Decode, base64Encode, utf8Decode } from "./base64.js";
import { AetheriumClient } from "./client.js";
import { AetheriumApiError, AuthError, NetworkError, NotFoundError } from "./errors.js";
import type { WebSocketEventLike, WebSocketLike } from "./websocket.js";

/** An in-memory WebSocket: records what the SDK sends and lets a test play the server. */
class FakeSocket implements WebSocketLike {
  static made: FakeSocket[] = [];
  /** What happens on construction: open (default), refuse with a message, or stay connecting. */
  static behaviour: "open" | { refuse: string } | { openThen: Record<string, unknown> } | "hang" =
    "open";
  readyState = 0;
  readonly sent: Record<string, unknown>[] = [];
  readonly #listeners = new Map<string, Set<(e: WebSocketEventLike) => void>>();

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    FakeSocket.made.push(this);
    const behaviour = FakeSocket.behaviour;
    queueMicrotask(() => {
      if (behaviour === "open") {
        this.readyState = 1;
        this.emit("open", {});
      } else if (behaviour !== "hang" && "openThen" in behaviour) {
        // Handshake answer, first message and close in one tick, as `ws` does for one TCP packet.
        this.readyState = 1;
        this.emit("open", {});
        this.serve(behaviour.openThen);
        this.drop();
      } else if (behaviour !== "hang") {
        this.emit("error", { message: behaviour.refuse });
        this.readyState = 3;
        this.emit("close", { code: 1006 });
      }
    });
  }
  send(data: string) {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code = 1000) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.emit("close", { code });
  }
  addEventListener(type: string, listener: (e: WebSocketEventLike) => void) {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
  }
  emit(type: string, event: WebSocketEventLike) {
    for (const l of this.#listeners.get(type) ?? []) l(event);
  }
  /** Plays a server message. */
  serve(message: Record<string, unknown>) {
    this.emit("message", { data: JSON.stringify(message) });
  }
  /** Drops the connection as a dying gateway would. */
  drop() {
    this.readyState = 3;
    this.emit("close", { code: 1006 });
  }
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(check()).toBe(true);
};

const vm = {
  id: "vm-1",
  name: "demo",
  status: "running",
  backend: "docker",
  image: "aetherium/base",
  vcpus: 1,
  memoryMb: 512,
  diskMb: 1024,
  workerId: "w1",
  labels: {},
  env: {},
  network: { egress: "allow-all" },
  createdAt: "2026-01-01T00:00:00.000Z",
  readyAt: "2026-01-01T00:00:01.000Z",
  expiresAt: null,
  stoppedAt: null,
  error: null,
};

function client(handler?: (url: URL, init: RequestInit) => Response) {
  return new AetheriumClient({
    url: "http://gw.test:8080",
    apiKey: "aet_key",
    WebSocket: FakeSocket,
    fetch: (input, init) =>
      Promise.resolve(
        handler?.(new URL(input as string), init ?? {}) ?? Response.json({ vm }, { status: 200 }),
      ),
  });
}

afterEach(() => {
  FakeSocket.made = [];
  FakeSocket.behaviour = "open";
});

describe("exec over the WebSocket", () => {
  it("sends start, queues stdin until started, streams output and resolves with the exit", async () => {
    const sandbox = await client().vms.get("vm-1");
    const out: string[] = [];
    const session = await sandbox.spawn("cat", {
      env: { A: "1" },
      onStdout: (c) => out.push(utf8Decode(c)),
    });
    const socket = FakeSocket.made[0]!;
    expect(socket.url).toBe("ws://gw.test:8080/api/v1/vms/vm-1/exec");
    expect(socket.protocols).toEqual(["aetherium.v1", "bearer.aet_key"]);
    session.write("hi");
    session.closeStdin();
    // Nothing but start before the server confirms: a racing stdin would reach no process.
    expect(socket.sent).toEqual([{ type: "start", command: "cat", env: { A: "1" } }]);
    socket.serve({ type: "started", executionId: "ex-1" });
    expect(session.executionId).toBe("ex-1");
    expect(socket.sent.slice(1)).toEqual([
      { type: "stdin", data: base64Encode(new TextEncoder().encode("hi")) },
      { type: "closeStdin" },
    ]);
    session.signal("SIGINT");
    session.resize(100, 30);
    expect(socket.sent.slice(3)).toEqual([
      { type: "signal", signal: "SIGINT" },
      { type: "resize", cols: 100, rows: 30 },
    ]);
    socket.serve({ type: "stdout", data: base64Encode(new TextEncoder().encode("hi")) });
    socket.serve({ type: "exit", exitCode: 3, durationMs: 5 });
    await expect(session.wait()).resolves.toEqual({
      exitCode: 3,
      signal: null,
      timedOut: false,
      durationMs: 5,
      executionId: "ex-1",
    });
    expect(out).toEqual(["hi"]);
  });

  it("exec with callbacks streams over the socket and returns the whole output", async () => {
    const sandbox = await client().vms.get("vm-1");
    const stderr: Uint8Array[] = [];
    const run = sandbox.exec("sh -c 'echo out; echo err >&2; exit 3'", {
      onStderr: (c) => stderr.push(c),
    });
    await until(() => FakeSocket.made[0]?.sent.length === 1);
    const socket = FakeSocket.made[0]!;
    socket.serve({ type: "started", executionId: "ex-2" });
    socket.serve({ type: "stdout", data: base64Encode(new TextEncoder().encode("out\n")) });
    socket.serve({ type: "stderr", data: base64Encode(new TextEncoder().encode("err\n")) });
    socket.serve({ type: "exit", exitCode: 3 });
    const execution = await run;
    expect(execution).toMatchObject({ id: "ex-2", vmId: "vm-1", exitCode: 3, stdout: "out\n" });
    expect(execution.stderr).toBe("err\n");
    expect(stderr.map((c) => utf8Decode(c))).toEqual(["err\n"]);
  });

  it("exec without callbacks is one POST /execute with the body the API expects", async () => {
    let seen: { path: string; body: unknown } | undefined;
    const execution = {
      id: "ex-3",
      vmId: "vm-1",
      command: "echo hi",
      args: [],
      exitCode: 0,
      stdout: "hi\n",
      stderr: "",
      stdoutTruncated: false,
      stderrTruncated: false,
      error: null,
      startedAt: "2026-01-01T00:00:00.000Z",
      completedAt: "2026-01-01T00:00:00.010Z",
      durationMs: 10,
      pty: false,
    };
    const c = client((url, init) => {
      if (url.pathname.endsWith("/execute")) {
        seen = { path: url.pathname, body: JSON.parse(init.body as string) };
        return Response.json({ execution });
      }
      return Response.json({ vm });
    });
    const sandbox = await c.vms.get("vm-1");
    await expect(sandbox.exec("echo hi", { stdin: "x", timeoutMs: 1000 })).resolves.toEqual(
      execution,
    );
    expect(seen).toEqual({
      path: "/api/v1/vms/vm-1/execute",
      body: { command: "echo hi", stdin: "x", timeoutMs: 1000 },
    });
    expect(FakeSocket.made).toHaveLength(0);
  });

  it("maps a server error message to its error class", async () => {
    const sandbox = await client().vms.get("vm-1");
    const session = await sandbox.spawn("true");
    FakeSocket.made[0]!.serve({ type: "error", code: "not_found", message: "vm-1 is gone" });
    await expect(session.wait()).rejects.toBeInstanceOf(NotFoundError);
    await expect(session.started()).rejects.toBeInstanceOf(NotFoundError);
  });

  it("rejects when the stream drops before the exit, and on a message outside the contract", async () => {
    const sandbox = await client().vms.get("vm-1");
    const dropped = await sandbox.spawn("sleep 10");
    FakeSocket.made[0]!.drop();
    await expect(dropped.wait()).rejects.toBeInstanceOf(NetworkError);

    const odd = await sandbox.spawn("true");
    FakeSocket.made[1]!.serve({ type: "stdout", data: 42 });
    const err = await odd.wait().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AetheriumApiError);
    expect((err as AetheriumApiError).code).toBe("contract");
  });

  it("keeps a message that arrives in the same tick as the open", async () => {
    const sandbox = await client().vms.get("vm-1");
    FakeSocket.behaviour = { openThen: { type: "error", code: "conflict", message: "is failed" } };
    const session = await sandbox.spawn("true");
    const err = await session.wait().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "conflict", message: "is failed" });
  });

  it("asks over HTTP why a handshake failed when the socket does not say (browsers)", async () => {
    let probed = "";
    const c = client((url) => {
      if (url.pathname === "/api/v1/tasks") {
        probed = url.pathname + url.search;
        return Response.json(
          { error: { code: "unauthorized", message: "bad key" }, requestId: "r" },
          { status: 401 },
        );
      }
      return Response.json({ vm });
    });
    FakeSocket.behaviour = { refuse: "" };
    const errors: unknown[] = [];
    c.events.subscribe({}, () => undefined, { onError: (e) => errors.push(e) });
    await until(() => errors.length === 1);
    expect(errors[0]).toBeInstanceOf(AuthError);
    expect(probed).toBe("/api/v1/tasks?limit=1");
  });

  it("a refused handshake becomes the matching error", async () => {
    const sandbox = await client().vms.get("vm-1");
    FakeSocket.behaviour = { refuse: "Unexpected server response: 401" };
    await expect(sandbox.spawn("true")).rejects.toBeInstanceOf(AuthError);
  });
});

const event = (type: string) => ({
  type,
  at: "2026-01-01T00:00:00.000Z",
  data: { vm, previousStatus: null },
});

describe("event subscriptions", () => {
  it("delivers events of the requested topics and reconnects after a drop", async () => {
    const got: DomainEvent[] = [];
    const errors: unknown[] = [];
    let opens = 0;
    const sub = client().events.subscribe({ topics: ["vm"] }, (e) => got.push(e), {
      onError: (e) => errors.push(e),
      onOpen: () => opens++,
      backoff: { initialMs: 1, maxMs: 2 },
    });
    await until(() => opens === 1);
    expect(FakeSocket.made[0]!.url).toBe("ws://gw.test:8080/api/v1/events?topics=vm");
    FakeSocket.made[0]!.serve(event("vm.created"));
    // A gateway sending more than asked must not leak other topics through.
    FakeSocket.made[0]!.serve({ ...event("worker.updated"), data: {} });
    FakeSocket.made[0]!.drop();
    await until(() => opens === 2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(NetworkError);
    FakeSocket.made[1]!.serve(event("vm.deleted"));
    expect(got.map((e) => e.type)).toEqual(["vm.created", "vm.deleted"]);
    expect(sub.connected).toBe(true);
    sub.close();
    expect(sub.connected).toBe(false);
    expect(FakeSocket.made).toHaveLength(2);
  });

  it("keeps retrying while the gateway is down, and stops for good on a refused key", async () => {
    FakeSocket.behaviour = { refuse: "connect ECONNREFUSED" };
    const errors: unknown[] = [];
    const sub = client().events.subscribe({}, () => undefined, {
      onError: (e) => errors.push(e),
      backoff: { initialMs: 1, maxMs: 1 },
    });
    await until(() => FakeSocket.made.length >= 3);
    expect(errors.every((e) => e instanceof NetworkError)).toBe(true);
    sub.close();

    FakeSocket.made = [];
    FakeSocket.behaviour = { refuse: "Unexpected server response: 401" };
    const fatal: unknown[] = [];
    client().events.subscribe({}, () => undefined, {
      onError: (e) => fatal.push(e),
      backoff: { initialMs: 1, maxMs: 1 },
    });
    await until(() => fatal.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toBeInstanceOf(AuthError);
    expect(FakeSocket.made).toHaveLength(1);
  });
});

describe("the ws package (Node 20 has no global WebSocket)", () => {
  it("is loaded on demand and sends the key as subprotocol and header", async () => {
    const seen: { protocols?: string; auth?: string } = {};
    const wss = new WebSocketServer({
      port: 0,
      host: "127.0.0.1",
      handleProtocols: (protocols) => (protocols.has("aetherium.v1") ? "aetherium.v1" : false),
    });
    wss.on("connection", (socket, req: IncomingMessage) => {
      seen.protocols = req.headers["sec-websocket-protocol"];
      seen.auth = req.headers.authorization;
      socket.on("message", (raw: Buffer) => {
        const msg = JSON.parse(raw.toString()) as { type: string; data?: string };
        if (msg.type === "start")
          socket.send(JSON.stringify({ type: "started", executionId: "e" }));
        if (msg.type === "stdin") {
          socket.send(JSON.stringify({ type: "stdout", data: msg.data }));
          socket.send(JSON.stringify({ type: "exit", exitCode: 0 }));
        }
      });
    });
    await new Promise((r) => wss.once("listening", r));
    try {
      const port = (wss.address() as AddressInfo).port;
      const c = new AetheriumClient({
        url: `http://127.0.0.1:${port}`,
        apiKey: "aet_real",
        fetch: () => Promise.resolve(Response.json({ vm })),
      });
      const sandbox = await c.vms.get("vm-1");
      const chunks: Uint8Array[] = [];
      const session = await sandbox.spawn("cat", {
        stdin: new Uint8Array([0, 255, 10]),
        onStdout: (b) => chunks.push(b),
      });
      await expect(session.wait()).resolves.toMatchObject({ exitCode: 0, executionId: "e" });
      expect(chunks).toEqual([new Uint8Array([0, 255, 10])]);
      expect(base64Decode(base64Encode(chunks[0]!))).toEqual(chunks[0]);
      expect(seen.protocols?.split(",").map((p) => p.trim())).toEqual([
        "aetherium.v1",
        "bearer.aet_real",
      ]);
      expect(seen.auth).toBe("Bearer aet_real");
    } finally {
      await new Promise((r) => wss.close(r));
    }
  });
});
