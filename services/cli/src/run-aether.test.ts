import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import type { CliIo } from "./io.js";
import { runAether } from "./program.js";

// A stand-in gateway speaking spec/api.md's shapes; the real one is exercised in tests/e2e.
const vm = (id: string, name: string, status = "running") => ({
  id,
  name,
  status,
  backend: "docker",
  image: "aetherium/base",
  vcpus: 2,
  memoryMb: 1024,
  diskMb: 4096,
  workerId: "w1",
  labels: { team: "core" },
  env: { TOKEN: "********" },
  network: { egress: "allow-all" },
  createdAt: new Date(Date.now() - 120_000).toISOString(),
  readyAt: null,
  expiresAt: null,
  stoppedAt: null,
  error: null,
});
const vms = [
  vm("11111111-1111-4111-8111-111111111111", "alpha"),
  vm("22222222-2222-4222-8222-222222222222", "beta", "stopped"),
  vm("33333333-3333-4333-8333-333333333333", "gone", "deleted"),
];

let server: Server;
/** Every exec WebSocket message the stub received, per connection. */
const execSessions: Record<string, unknown>[][] = [];
let url: string;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "aether-cli-"));
  server = createServer((req, res) => {
    const send = (status: number, body: unknown) =>
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    const u = new URL(req.url ?? "/", "http://x");
    if (u.pathname === "/api/v1/health") {
      return send(200, {
        status: "ok",
        components: { database: { status: "ok", detail: "pglite" } },
      });
    }
    if (req.headers.authorization !== "Bearer good") {
      return send(401, {
        error: { code: "unauthorized", message: "the API key is not valid" },
        requestId: "r",
      });
    }
    if (u.pathname === "/api/v1/vms") {
      // As the gateway does: deleted sandboxes only when a status filter names them.
      const statuses = u.searchParams.getAll("status").flatMap((x) => x.split(","));
      const items = vms.filter((v) =>
        statuses.length ? statuses.includes(v.status) : v.status !== "deleted",
      );
      return send(200, { items, nextCursor: null });
    }
    const one = /^\/api\/v1\/vms\/([^/]+)$/.exec(u.pathname);
    const found = vms.find((v) => v.id === one?.[1]);
    if (found) return send(200, { vm: found });
    return send(404, {
      error: { code: "not_found", message: `vm ${one?.[1]} not found` },
      requestId: "r",
    });
  });
  // The exec WebSocket: `cat`-like commands echo stdin; a closed stdin ends them with exit 0, and a
  // terminal session (pty) ends with exit 4 when it reads "exit\r".
  const wss = new WebSocketServer({
    server,
    handleProtocols: (p) => (p.has("aetherium.v1") ? "aetherium.v1" : false),
  });
  wss.on("connection", (socket) => {
    const got: Record<string, unknown>[] = [];
    execSessions.push(got);
    const send = (m: unknown) => socket.send(JSON.stringify(m));
    socket.on("message", (raw: Buffer) => {
      const m = JSON.parse(raw.toString()) as Record<string, unknown> & { type: string };
      got.push(m);
      if (m.type === "start") {
        send({ type: "started", executionId: "ex-1" });
        if (m.command === "false") send({ type: "exit", exitCode: 1 });
      }
      if (m.type === "stdin") {
        send({ type: "stdout", data: m.data });
        if (
          Buffer.from(m.data as string, "base64")
            .toString()
            .includes("exit\r")
        ) {
          send({ type: "exit", exitCode: 4 });
        }
      }
      if (m.type === "closeStdin" && !got[0]?.pty) {
        send({ type: "stderr", data: Buffer.from("eof\n").toString("base64") });
        send({ type: "exit", exitCode: 0 });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

/** Runs one command line against the stub, capturing its output. */
async function aether(
  argv: string[],
  env: Record<string, string> = {},
  cwd = dir,
  stdin: CliIo["stdin"] = { isTTY: true, [Symbol.asyncIterator]: async function* () {} },
  extra: Partial<CliIo> = {},
) {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: {
      write: (c) => (stdout += typeof c === "string" ? c : Buffer.from(c).toString()),
      isTTY: true,
      columns: 100,
      rows: 30,
    },
    stderr: { write: (c) => (stderr += typeof c === "string" ? c : Buffer.from(c).toString()) },
    stdin,
    env: { AETHERIUM_URL: url, ...env },
    cwd,
    ...extra,
  };
  const code = await runAether(argv, io);
  return { code, stdout, stderr };
}

describe("runAether", () => {
  it("lists live sandboxes as an aligned table with relative ages", async () => {
    const r = await aether(["vm", "ls"], { AETHERIUM_API_KEY: "good" });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+NAME\s+STATUS\s+BACKEND\s+CPUS\s+MEMORY\s+AGE\s+LABELS$/);
    expect(lines).toHaveLength(3); // the deleted one is hidden without --all
    expect(lines[1]).toMatch(
      /^11111111-1111-4111-8111-111111111111\s+alpha\s+running\s+docker\s+2\s+1G\s+2m\s+team=core$/,
    );
    // Columns line up: every row puts NAME at the same offset as the header.
    expect(lines.map((l) => l.indexOf(l.split(/\s{2,}/)[1]!))).toEqual([38, 38, 38]);
  });

  it("--json prints one JSON document, --all included", async () => {
    const r = await aether(["vm", "ls", "--all", "--json"], { AETHERIUM_API_KEY: "good" });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { items: { name: string }[] };
    expect(doc.items.map((v) => v.name)).toEqual(["alpha", "beta", "gone"]);
    expect(r.stderr).toBe("");
  });

  it("finds a sandbox by name as well as by id", async () => {
    const r = await aether(["vm", "get", "beta", "--json"], { AETHERIUM_API_KEY: "good" });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { vm: { id: string } }).vm.id).toBe(vms[1]!.id);
    const human = await aether(["vm", "get", "alpha"], { AETHERIUM_API_KEY: "good" });
    expect(human.stdout).toMatch(/^id\s+11111111-/m);
    expect(human.stdout).toMatch(/^env\s+TOKEN$/m);
  });

  it("a missing sandbox is one line pointing at vm ls, exit 1", async () => {
    const r = await aether(["vm", "get", "nope"], { AETHERIUM_API_KEY: "good" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'aether: no sandbox with id or name "nope"; list sandboxes with `aether vm ls`\n',
    );
  });

  it("reads the embedded admin key from ./.aetherium/admin.key, or $AETHERIUM_HOME", async () => {
    await mkdir(path.join(dir, ".aetherium"), { recursive: true });
    await writeFile(path.join(dir, ".aetherium", "admin.key"), "good\n");
    expect((await aether(["vm", "ls"])).code).toBe(0);
    const home = path.join(dir, "elsewhere");
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, "admin.key"), "stale\n");
    const r = await aether(["vm", "ls"], { AETHERIUM_HOME: home });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^aether: the API key from .*elsewhere\/admin\.key was refused/);
    // The flag wins over both.
    expect((await aether(["--api-key", "good", "vm", "ls"], { AETHERIUM_HOME: home })).code).toBe(
      0,
    );
  });

  it("a bad key gives one line saying how to pass one", async () => {
    const r = await aether(["vm", "ls", "--api-key", "bad"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/the API key from --api-key was refused .*AETHERIUM_API_KEY/);
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it("usage errors exit 2", async () => {
    expect((await aether(["vm", "frobnicate"])).code).toBe(2);
    expect((await aether(["vm"])).code).toBe(2);
    const bad = await aether(["vm", "create", "--memory", "lots"], { AETHERIUM_API_KEY: "good" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--memory "lots" must be a size/);
    expect((await aether(["--help"])).code).toBe(0);
  });

  it("--json makes every error one JSON object on stderr, with the same exit codes", async () => {
    const missing = await aether(["vm", "get", "nope", "--json"], { AETHERIUM_API_KEY: "good" });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe("");
    expect(JSON.parse(missing.stderr)).toEqual({
      error: {
        code: "not_found",
        message: 'no sandbox with id or name "nope"; list sandboxes with `aether vm ls`',
      },
    });
    const refused = await aether(["--json", "vm", "ls", "--api-key", "bad"]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stderr)).toMatchObject({
      error: { code: "unauthorized", message: expect.stringMatching(/was refused/) },
      requestId: "r",
    });
    const unreachable = await aether(["vm", "ls", "--json", "--url", "http://127.0.0.1:1"], {
      AETHERIUM_API_KEY: "good",
    });
    expect(unreachable.code).toBe(1);
    expect(JSON.parse(unreachable.stderr)).toMatchObject({ error: { code: "network" } });
    // Usage errors, commander's own and the CLI's, are JSON too and still exit 2.
    for (const argv of [
      ["vm", "frobnicate", "--json"],
      ["--json", "vm", "create", "--memory", "lots"],
      ["--json", "vm", "ls", "--no-such-flag"],
    ]) {
      const r = await aether(argv, { AETHERIUM_API_KEY: "good" });
      expect(r.code, argv.join(" ")).toBe(2);
      const doc = JSON.parse(r.stderr) as { error: { code: string; message: string } };
      expect(doc.error.code).toBe("usage");
      expect(doc.error.message).not.toMatch(/^error:/);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    }
    // `--json` after `--` is the sandbox command's word, not aether's.
    const human = await aether(["exec", "nope", "--", "echo", "--json"], {
      AETHERIUM_API_KEY: "good",
    });
    expect(human.stderr).toMatch(/^aether: no sandbox/);
  });

  it("offers --tool on vm create (its install is tested against the real stack)", async () => {
    expect((await aether(["vm", "create", "--help"])).stdout).toMatch(
      /--tool <spec>\s+tool to install with mise/,
    );
  });

  it("health needs no key and shows the components", async () => {
    const r = await aether(["health"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/: ok\n/);
    expect(r.stdout).toMatch(/^database\s+ok\s+pglite$/m);
  });

  it("an unreachable gateway says to start it", async () => {
    const r = await aether(["vm", "ls", "--url", "http://127.0.0.1:1"], {
      AETHERIUM_API_KEY: "good",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^aether: cannot reach Aetherium at http:\/\/127\.0\.0\.1:1; is it running\? start it with `npm start`/,
    );
  });

  it("exec streams output, pipes a non-terminal stdin and exits with the command's code", async () => {
    execSessions.length = 0;
    // A pipe, as when another program feeds `aether exec`: not a terminal, two chunks, then EOF.
    const piped: CliIo["stdin"] = Readable.from(["line one\n", Buffer.from("line two\n")]);
    const r = await aether(
      ["exec", "alpha", "--env", "A=1", "--", "cat"],
      { AETHERIUM_API_KEY: "good" },
      dir,
      piped,
    );
    expect(r).toEqual({ code: 0, stdout: "line one\nline two\n", stderr: "eof\n" });
    expect(execSessions[0]?.[0]).toEqual({ type: "start", command: "cat", env: { A: "1" } });
    expect(execSessions[0]?.at(-1)).toEqual({ type: "closeStdin" });
    const failing = await aether(["exec", "alpha", "--", "false"], { AETHERIUM_API_KEY: "good" });
    expect(failing.code).toBe(1);
    expect(failing.stderr).toBe("");
  });

  it("shell runs a terminal: raw mode on and restored, keys through, resize on SIGWINCH", async () => {
    execSessions.length = 0;
    const raw: boolean[] = [];
    let onData: ((c: string | Uint8Array) => void) | undefined;
    let winch: (() => void) | undefined;
    const tty: CliIo["stdin"] = {
      isTTY: true,
      setRawMode: (v: boolean) => raw.push(v),
      on: (_e, l) => (onData = l),
      off: () => (onData = undefined),
      resume: () => {
        // The user types once the terminal is up; the window changes size first.
        setTimeout(() => {
          winch?.();
          onData?.("ls\r");
          onData?.("exit\r");
        }, 10);
      },
      pause: () => undefined,
      [Symbol.asyncIterator]: async function* () {},
    };
    const r = await aether(
      ["shell", "alpha"],
      { AETHERIUM_API_KEY: "good", TERM: "xterm" },
      dir,
      tty,
      {
        onSignal: (sig, listener) => {
          if (sig === "SIGWINCH") winch = listener;
          return () => (winch = undefined);
        },
      },
    );
    expect(r.code).toBe(4);
    expect(r.stdout).toBe("ls\rexit\r");
    expect(raw).toEqual([true, false]);
    expect(onData).toBeUndefined();
    const [start, ...rest] = execSessions[0] ?? [];
    expect(start).toMatchObject({
      type: "start",
      pty: { cols: 100, rows: 30 },
      env: { TERM: "xterm" },
    });
    expect(rest[0]).toEqual({ type: "resize", cols: 100, rows: 30 });
    expect(rest.slice(1).map((m) => m.type)).toEqual(["stdin", "stdin"]);
  });

  it("shell refuses to run without a terminal", async () => {
    const r = await aether(["shell", "alpha"], { AETHERIUM_API_KEY: "good" }, dir, {
      isTTY: false,
      [Symbol.asyncIterator]: async function* () {},
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs a terminal; in scripts use `aether exec/);
  });
});
