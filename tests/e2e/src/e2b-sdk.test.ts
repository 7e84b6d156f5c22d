import { createHash, randomBytes } from "node:crypto";
import { AetheriumClient } from "@aetherium/sdk";
import * as e2bLatest from "e2b";
import * as e2b250 from "e2b-2-50";
import { execFile } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startAetherium, type StartedAetherium } from "./start-aetherium.js";

/*
 * The real `e2b` npm package, at two pinned versions (2.50, the last before create and connect
 * moved to /v2, and 2.51), against a real `aetherium start` with nothing but E2B_API_URL,
 * E2B_SANDBOX_URL and E2B_API_KEY set: what a user's existing e2b code does, unchanged.
 */

const run = promisify(execFile);
const AETHER = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../services/cli/dist/main.js",
);

let app: StartedAetherium;
const saved = { ...process.env };

beforeAll(async () => {
  app = await startAetherium({ timeoutMs: 120_000 });
  if (!/sandboxes:\s+ready on docker/.test(app.stdout())) {
    throw new Error(`these tests need Docker and the base image:\n${app.stdout()}`);
  }
  // The key as the README makes it: `aether keys create <name> --e2b` prints the secret alone.
  const made = await run(process.execPath, [AETHER, "keys", "create", "e2b-sdk", "--e2b"], {
    env: { ...process.env, AETHERIUM_URL: app.url, AETHERIUM_API_KEY: app.apiKey, NO_COLOR: "1" },
  });
  const secret = made.stdout.trim();
  expect(secret).toMatch(/^e2b_[0-9a-f]{40}$/);
  process.env.E2B_API_URL = `${app.url}/e2b`;
  process.env.E2B_SANDBOX_URL = `${app.url}/e2b`;
  process.env.E2B_API_KEY = secret;
}, 150_000);

afterAll(async () => {
  for (const k of ["E2B_API_URL", "E2B_SANDBOX_URL", "E2B_API_KEY"]) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await app?.cleanup();
}, 60_000);

type E2b = typeof e2bLatest;

/** A plain HTTP request with headers fetch() would not let a client set (Host). */
function get(
  base: string,
  path: string,
  headers: Record<string, string>,
  method = "GET",
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer`)));
    req.end(body);
  });
}

/** Opens a WebSocket whose Host header names a sandbox port. */
function openWs(url: string, host: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { host } });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}

/** A WebSocket echo server in Python's standard library: the handshake and text frames. */
const WS_ECHO_SERVER = String.raw`
import base64, hashlib, socket, struct, sys, threading
def serve(c):
    head = b""
    while b"\r\n\r\n" not in head:
        head += c.recv(1024)
    key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key")][0]
    acc = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acc + b"\r\n\r\n")
    def read(n):
        b = b""
        while len(b) < n:
            more = c.recv(n - len(b))
            if not more: raise EOFError
            b += more
        return b
    try:
        while True:
            b1, b2 = read(2)
            n = b2 & 127
            if n == 126: n = struct.unpack(">H", read(2))[0]
            elif n == 127: n = struct.unpack(">Q", read(8))[0]
            mask = read(4) if b2 & 128 else b"\0\0\0\0"
            data = bytes(x ^ mask[i % 4] for i, x in enumerate(read(n)))
            if b1 & 15 == 8: break
            hdr = bytes([0x81, n]) if n < 126 else bytes([0x81, 126]) + struct.pack(">H", n)
            c.sendall(hdr + data)
    except EOFError:
        pass
    c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
while True:
    conn, _ = s.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
`;

describe.each([
  ["2.51.0", e2bLatest],
  ["2.50.0", e2b250 as unknown as E2b],
])("e2b %s against Aetherium", (version, sdk) => {
  const { Sandbox, CommandExitError, NotFoundError, AuthenticationError } = sdk;
  const suite = `e2b-${version.replace(/\./g, "-")}-${randomBytes(2).toString("hex")}`;
  let sbx: InstanceType<typeof Sandbox>;

  afterAll(async () => {
    if (sbx) await Sandbox.kill(sbx.sandboxId).catch(() => undefined);
  }, 60_000);

  it("creates a sandbox from base that answers at once", async () => {
    sbx = await Sandbox.create("base", { metadata: { suite }, timeoutMs: 600_000 });
    expect(sbx.sandboxId).toBeTruthy();
    expect(await sbx.isRunning()).toBe(true);
  }, 150_000);

  it("runs commands with stdout, stderr and exit codes", async () => {
    const ok = await sbx.commands.run("echo out; echo err >&2");
    expect(ok).toMatchObject({ exitCode: 0, stdout: "out\n", stderr: "err\n" });
    const env = await sbx.commands.run("echo $GREETING", { envs: { GREETING: "hi" }, cwd: "/tmp" });
    expect(env.stdout).toBe("hi\n");
    // Large output arrives whole and in order (the stream pauses the command, never drops).
    const many = await sbx.commands.run("seq 1 400000");
    expect(many.stdout.length).toBe(2_688_895);
    expect(many.stdout.endsWith("399999\n400000\n")).toBe(true);
    // E2B's default user, in its home, as the SDK documents; root when asked.
    expect((await sbx.commands.run("whoami; pwd")).stdout).toBe("user\n/home/user\n");
    expect((await sbx.commands.run("whoami", { user: "root" })).stdout).toBe("root\n");
    // The default user has passwordless `sudo`, as on E2B (setuid works in Docker sandboxes);
    // E2B's own `bash command scoped env vars` runs `sudo echo "$FOO"` after a scoped FOO.
    expect((await sbx.commands.run("sudo -n whoami")).stdout).toBe("root\n");
    const scoped = await sbx.commands.run('sudo echo "$FOO"');
    expect(scoped).toMatchObject({ exitCode: 0, stdout: "\n" });
    const failed = await sbx.commands.run("echo bad >&2; exit 3").catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(CommandExitError);
    expect(failed).toMatchObject({ exitCode: 3, stderr: "bad\n" });
  });

  it("runs a background command, reconnects to it, feeds its stdin and kills another", async () => {
    const reader = await sbx.commands.run("read line; echo got:$line", {
      background: true,
      stdin: true,
    });
    const listed = await sbx.commands.list();
    expect(listed.map((p) => p.pid)).toContain(reader.pid);
    await sbx.commands.sendStdin(reader.pid, "hello\n");
    const read = await reader.wait();
    expect(read.stdout).toBe("got:hello\n");

    const cat = await sbx.commands.run("cat", { background: true, stdin: true });
    await sbx.commands.sendStdin(cat.pid, "until eof");
    await sbx.commands.closeStdin(cat.pid);
    expect((await cat.wait()).stdout).toBe("until eof");

    const sleeper = await sbx.commands.run("sleep 120", { background: true });
    const again = await sbx.commands.connect(sleeper.pid);
    expect(again.pid).toBe(sleeper.pid);
    expect(await sbx.commands.kill(sleeper.pid)).toBe(true);
    const killed = await again.wait().catch((e: unknown) => e);
    expect(killed).toBeInstanceOf(CommandExitError);
    expect(await sbx.commands.kill(sleeper.pid)).toBe(false);
  });

  it("drives a PTY: input, resize and its output, as the default user and as root", async () => {
    const encode = (t: string) => new TextEncoder().encode(t);
    const open = async (user?: string) => {
      const decoder = new TextDecoder();
      const got = { out: "" };
      const term = await sbx.pty.create({
        cols: 80,
        rows: 24,
        ...(user ? { user } : {}),
        onData: (d) => void (got.out += decoder.decode(d)),
      });
      return { term, got };
    };
    // The default user's terminal, resized: the agent keeps the terminal's `script` as root, so
    // it can find the terminal even where a container's root cannot read a user's /proc/<pid>/fd.
    const mine = await open();
    await sbx.pty.resize(mine.term.pid, { cols: 100, rows: 30 });
    await sbx.pty.sendInput(
      mine.term.pid,
      encode('whoami; echo pty-$((6*7)); echo "size=$(stty size) cols=$(tput cols)"\nexit\n'),
    );
    expect(await mine.term.wait()).toMatchObject({ exitCode: 0 });
    expect(mine.got.out).toContain("pty-42");
    expect(mine.got.out).toMatch(/\buser\r?\n/);
    expect(mine.got.out).toContain("size=30 100 cols=100");
    const root = await open("root");
    await sbx.pty.resize(root.term.pid, { cols: 120, rows: 40 });
    await sbx.pty.sendInput(root.term.pid, encode("stty size\nexit\n"));
    expect(await root.term.wait()).toMatchObject({ exitCode: 0 });
    expect(root.got.out).toContain("40 120");
  });

  it("keeps user metadata on files and shows their mode, owner and link target", async () => {
    const dir = `/tmp/${suite}-meta`;
    await sbx.files.makeDir(dir);
    const tagged = await sbx.files.write(`${dir}/m.txt`, "x", {
      metadata: { author: "ada", purpose: "test" },
    });
    expect(tagged).toMatchObject({ metadata: { author: "ada", purpose: "test" } });
    expect((await sbx.files.getInfo(`${dir}/m.txt`)).metadata).toEqual({
      author: "ada",
      purpose: "test",
    });
    // Streamed (octet-stream) uploads carry it too, and listings and renames show it.
    await sbx.files.write(`${dir}/o.txt`, "y", { metadata: { k: "v" }, useOctetStream: true });
    const listed = await sbx.files.list(dir);
    expect(listed.find((e) => e.name === "o.txt")?.metadata).toEqual({ k: "v" });
    expect((await sbx.files.rename(`${dir}/o.txt`, `${dir}/p.txt`)).metadata).toEqual({ k: "v" });
    // It is the file's extended attributes, under user.e2b., as on E2B.
    const attr = await sbx.commands.run(
      `python3 -c "import os; print(os.getxattr('${dir}/m.txt', 'user.e2b.author').decode())"`,
    );
    expect(attr.stdout).toBe("ada\n");
    // An upload without metadata clears what the last one stored.
    const plain = await sbx.files.write(`${dir}/m.txt`, "z");
    expect(plain.metadata).toBeUndefined();
    expect((await sbx.files.getInfo(`${dir}/m.txt`)).metadata).toBeUndefined();
    await expect(
      sbx.files.write(`${dir}/bad.txt`, "x", { metadata: { "bad key": "v" } }),
    ).rejects.toBeInstanceOf(sdk.InvalidArgumentError);
    expect(await sbx.files.exists(`${dir}/bad.txt`)).toBe(false);
    // A header the SDK would not send is refused by the gateway, before anything is written.
    const token = (sbx as unknown as { envdAccessToken: string }).envdAccessToken;
    const refused = await fetch(`${app.url}/e2b/files?path=${dir}/long.txt`, {
      method: "POST",
      headers: {
        "content-type": "application/octet-stream",
        "e2b-sandbox-id": sbx.sandboxId,
        "e2b-sandbox-port": "49983",
        "x-access-token": token,
        "x-metadata-big": "v".repeat(5000),
      },
      body: "x",
    });
    expect(refused.status).toBe(400);
    expect(await sbx.files.exists(`${dir}/long.txt`)).toBe(false);
    // The entry info of envd 0.6.2: mode, permissions, owner, group, time, link target.
    await sbx.commands.run(`chmod 640 ${dir}/m.txt && ln -s m.txt ${dir}/link`);
    const info = await sbx.files.getInfo(`${dir}/m.txt`);
    expect(info).toMatchObject({ mode: 0o640, permissions: "-rw-r-----", owner: "user" });
    expect(info.modifiedTime).toBeInstanceOf(Date);
    expect((await sbx.files.getInfo(`${dir}/link`)).symlinkTarget).toBe(`${dir}/m.txt`);
    await sbx.files.remove(dir);
  }, 60_000);

  it("watches with entry info and with network mounts allowed", async () => {
    const dir = `/tmp/${suite}-watch-entry`;
    await sbx.files.makeDir(dir);
    const seen: { name: string; type: string; path?: string; size?: number }[] = [];
    const handle = await sbx.files.watchDir(
      dir,
      (e) =>
        void seen.push({ name: e.name, type: e.type, path: e.entry?.path, size: e.entry?.size }),
      { includeEntry: true, allowNetworkMounts: true },
    );
    await sbx.files.write(`${dir}/e.txt`, "12345");
    for (let i = 0; i < 100 && !seen.some((e) => e.name === "e.txt"); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await handle.stop();
    expect(seen).toContainEqual({ name: "e.txt", type: "write", path: `${dir}/e.txt`, size: 5 });
    await sbx.files.remove(dir);
  }, 60_000);

  it("serves signed download and upload URLs of a secure sandbox, and refuses expired ones", async () => {
    const secure = await Sandbox.create("base", {
      secure: true,
      metadata: { suite: `${suite}-secure` },
      timeoutMs: 300_000,
    });
    try {
      await secure.files.write("hello.txt", "hello world");
      expect(await secure.files.read("hello.txt")).toBe("hello world");
      // The URL the SDK builds from E2B_SANDBOX_URL names no sandbox: the signature finds it.
      const url = await secure.downloadUrl("hello.txt", { useSignatureExpiration: 10_000 });
      expect(url.startsWith(`${app.url}/files?`)).toBe(true);
      expect(url).toContain("signature=v1_");
      const ok = await fetch(url);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("hello world");
      // Without an expiration, and as root.
      await secure.files.write("/root/r.txt", "root's", { user: "root" });
      const asRoot = await fetch(await secure.downloadUrl("/root/r.txt", { user: "root" }));
      expect(await asRoot.text()).toBe("root's");
      const expired = await fetch(
        await secure.downloadUrl("hello.txt", { useSignatureExpiration: -10_000 }),
      );
      expect(expired.status).toBe(401);
      expect(await expired.json()).toEqual({ code: 401, message: "signature is already expired" });
      // Signed for one path, used for another: refused.
      const other = new URL(url);
      other.searchParams.set("path", "/etc/passwd");
      const forged = await fetch(other);
      expect(forged.status).toBe(401);
      expect(await forged.json()).toEqual({ code: 401, message: "invalid signature" });
      // A signed upload, as a browser form would send it.
      const form = new FormData();
      form.append("file", "file content");
      const up = await fetch(await secure.uploadUrl("up.txt", { useSignatureExpiration: 10_000 }), {
        method: "POST",
        body: form,
      });
      expect(up.status).toBe(200);
      expect(await up.json()).toEqual([
        { name: "up.txt", path: "/home/user/up.txt", type: "file" },
      ]);
      expect(await secure.files.read("up.txt")).toBe("file content");
    } finally {
      await secure.kill();
    }
  }, 150_000);

  it("uploads and downloads 20 MB with equal checksums", async () => {
    const data = randomBytes(20 * 1024 * 1024);
    const path = `/tmp/${suite}-big.bin`;
    await sbx.files.write(path, new Blob([data]));
    const back = Buffer.from(await sbx.files.read(path, { format: "bytes" }));
    expect(back.length).toBe(data.length);
    expect(createHash("sha256").update(back).digest("hex")).toBe(
      createHash("sha256").update(data).digest("hex"),
    );
    const inside = await sbx.commands.run(`sha256sum ${path}`);
    expect(inside.stdout.split(" ")[0]).toBe(createHash("sha256").update(data).digest("hex"));
    await sbx.files.remove(path);
  }, 120_000);

  it("writes, reads, lists, renames and removes files", async () => {
    const dir = `/tmp/${suite}`;
    expect(await sbx.files.makeDir(dir)).toBe(true);
    expect(await sbx.files.makeDir(dir)).toBe(false);
    const info = await sbx.files.write(`${dir}/a.txt`, "hello e2b");
    expect(info.path).toBe(`${dir}/a.txt`);
    expect(await sbx.files.read(`${dir}/a.txt`)).toBe("hello e2b");
    // A relative path is in the user's home, and what the user writes is the user's.
    const mine = await sbx.files.write("notes/mine.txt", "mine\n");
    expect(mine.path).toBe("/home/user/notes/mine.txt");
    expect(await sbx.files.getInfo("notes/mine.txt")).toMatchObject({
      owner: "user",
      group: "user",
    });
    expect(
      (await sbx.commands.run("echo more >> notes/mine.txt && cat notes/mine.txt")).stdout,
    ).toBe("mine\nmore\n");
    const bytes = randomBytes(256 * 1024);
    await sbx.files.write(`${dir}/blob.bin`, new Blob([bytes]));
    const back = await sbx.files.read(`${dir}/blob.bin`, { format: "bytes" });
    expect(Buffer.from(back).equals(bytes)).toBe(true);
    const names = (await sbx.files.list(dir)).map((e) => e.name).sort();
    expect(names).toEqual(["a.txt", "blob.bin"]);
    await sbx.files.write(`${dir}/sub/deep.txt`, "deep");
    expect((await sbx.files.list(dir)).map((e) => e.name).sort()).toEqual([
      "a.txt",
      "blob.bin",
      "sub",
    ]);
    const deep = (await sbx.files.list(dir, { depth: 2 })).map((e) => e.path).sort();
    expect(deep).toContain(`${dir}/sub/deep.txt`);
    const stat = await sbx.files.getInfo(`${dir}/blob.bin`);
    expect(stat).toMatchObject({ name: "blob.bin", type: "file", size: bytes.length });
    await sbx.files.remove(`${dir}/sub`);
    expect(await sbx.files.exists(`${dir}/a.txt`)).toBe(true);
    expect(await sbx.files.exists(`${dir}/nope`)).toBe(false);
    const moved = await sbx.files.rename(`${dir}/a.txt`, `${dir}/b.txt`);
    expect(moved.path).toBe(`${dir}/b.txt`);
    expect(await sbx.files.exists(`${dir}/a.txt`)).toBe(false);
    await sbx.files.remove(`${dir}/b.txt`);
    expect(await sbx.files.exists(`${dir}/b.txt`)).toBe(false);
    await expect(sbx.files.read(`${dir}/gone.txt`)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("watches a directory, streaming and polling", async () => {
    const dir = `/tmp/${suite}-watch`;
    await sbx.files.makeDir(dir);
    const seen: { name: string; type: string }[] = [];
    const handle = await sbx.files.watchDir(
      dir,
      (e) => void seen.push({ name: e.name, type: e.type }),
    );
    // The polling watchers, as envd's Connect API offers them (the JS SDK does not use them).
    const token = (sbx as unknown as { envdAccessToken: string }).envdAccessToken;
    const rpc = async (method: string, body: unknown) => {
      const res = await fetch(`${app.url}/e2b/filesystem.Filesystem/${method}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "e2b-sandbox-id": sbx.sandboxId,
          "e2b-sandbox-port": "49983",
          "x-access-token": token,
        },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    const { watcherId } = (await rpc("CreateWatcher", { path: dir })) as { watcherId: string };
    await sbx.files.write(`${dir}/new.txt`, "content");
    await sbx.files.remove(`${dir}/new.txt`).catch(() => undefined);
    await sbx.files.write(`${dir}/kept.txt`, "content");
    for (let i = 0; i < 100 && !seen.some((e) => e.name === "kept.txt"); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await handle.stop();
    expect(seen).toContainEqual({ name: "kept.txt", type: "write" });
    const polled = (await rpc("GetWatcherEvents", { watcherId })) as {
      events: { name: string; type: string }[];
    };
    expect(polled.events).toContainEqual({ name: "kept.txt", type: "EVENT_TYPE_CREATE" });
    expect((await rpc("GetWatcherEvents", { watcherId })).events ?? []).toEqual([]);
    await rpc("RemoveWatcher", { watcherId });
  }, 60_000);

  it("describes, lists by metadata and changes the timeout", async () => {
    const info = await sbx.getInfo();
    expect(info).toMatchObject({
      sandboxId: sbx.sandboxId,
      templateId: "base",
      metadata: { suite },
    });
    const listed = await Sandbox.list({ query: { metadata: { suite } } }).nextItems();
    expect(listed.map((s) => s.sandboxId)).toEqual([sbx.sandboxId]);
    const none = await Sandbox.list({
      query: { metadata: { suite: `${suite}-other` } },
    }).nextItems();
    expect(none).toEqual([]);
    await sbx.setTimeout(120_000);
    const after = await sbx.getInfo();
    const left = after.endAt.getTime() - Date.now();
    expect(left).toBeGreaterThan(60_000);
    expect(left).toBeLessThanOrEqual(125_000);
    const [sample, ...more] = await sbx.getMetrics();
    expect(more).toEqual([]);
    expect(sample).toMatchObject({
      cpuCount: info.cpuCount,
      memTotal: info.memoryMB * 1024 * 1024,
    });
    expect(sample!.memUsed).toBeGreaterThan(0);
    expect(sample!.diskTotal).toBeGreaterThan(0);
    const connected = await Sandbox.connect(sbx.sandboxId);
    expect((await connected.commands.run("echo again")).stdout).toBe("again\n");
  });

  it("pauses and resumes through connect, keeping a running process and its files", async () => {
    const count = `/tmp/${suite}-count`;
    const counter = await sbx.commands.run(
      `i=0; while true; do i=$((i+1)); echo $i > ${count}; sleep 0.1; done`,
      { background: true },
    );
    await sbx.files.write(`/tmp/${suite}-kept.txt`, "kept");
    expect(await sbx.pause()).toBe(true);
    expect(await sbx.pause()).toBe(false); // paused already, as E2B answers it
    expect((await Sandbox.getInfo(sbx.sandboxId)).state).toBe("paused");
    expect(await sbx.isRunning()).toBe(false);
    const paused = await Sandbox.list({
      query: { metadata: { suite }, state: ["paused"] },
    }).nextItems();
    expect(paused.map((s) => s.sandboxId)).toEqual([sbx.sandboxId]);
    const running = await Sandbox.list({
      query: { metadata: { suite }, state: ["running"] },
    }).nextItems();
    expect(running).toEqual([]);
    // A frozen sandbox is not measured: no sample, as for a time E2B has none of.
    expect(await sbx.getMetrics()).toEqual([]);
    // Refused, not accepted and ignored: a pause here always keeps memory.
    await expect(sbx.pause({ keepMemory: false })).rejects.toThrow(/memory/);

    const back = await Sandbox.connect(sbx.sandboxId);
    expect((await back.getInfo()).state).toBe("running");
    expect((await back.commands.list()).map((p) => p.pid)).toContain(counter.pid);
    expect(await back.files.read(`/tmp/${suite}-kept.txt`)).toBe("kept");
    const read = async () => Number((await back.commands.run(`cat ${count}`)).stdout.trim());
    const first = await read();
    let later = first;
    for (let i = 0; i < 50 && later === first; i++) {
      await new Promise((r) => setTimeout(r, 100));
      later = await read();
    }
    expect(later).toBeGreaterThan(first);
    expect(await back.commands.kill(counter.pid)).toBe(true);
  }, 120_000);

  it("pauses at the timeout when created to (autoPause), and resumes on connect", async () => {
    const brief = await Sandbox.create("base", {
      metadata: { suite: `${suite}-auto` },
      timeoutMs: 600_000,
      lifecycle: { onTimeout: "pause" },
    });
    try {
      await brief.commands.run("echo kept > /tmp/kept");
      await brief.setTimeout(2_000);
      let state: string | undefined;
      for (let i = 0; i < 120 && state !== "paused"; i++) {
        await new Promise((r) => setTimeout(r, 500));
        state = (await Sandbox.getInfo(brief.sandboxId)).state;
      }
      expect(state).toBe("paused");
      const back = await Sandbox.connect(brief.sandboxId, { timeoutMs: 60_000 });
      expect((await back.commands.run("cat /tmp/kept")).stdout).toBe("kept\n");
    } finally {
      await Sandbox.kill(brief.sandboxId).catch(() => undefined);
    }
  }, 150_000);

  it("reaches HTTP and WebSocket servers inside the sandbox through getHost and the port header", async () => {
    await sbx.files.write(`/tmp/${suite}-web/index.txt`, "hello from inside\n");
    await sbx.files.write(`/tmp/${suite}-ws.py`, WS_ECHO_SERVER);
    const web = await sbx.commands.run(`cd /tmp/${suite}-web && python3 -m http.server 8765`, {
      background: true,
    });
    const echo = await sbx.commands.run(`python3 /tmp/${suite}-ws.py 8766`, { background: true });
    const host = sbx.getHost(8765);
    expect(host.startsWith(`8765-${sbx.sandboxId}.`)).toBe(true);
    // Wildcard mode: the gateway is the wildcard domain's address; only the Host header says where.
    let res = await get(app.url, "/index.txt", { host });
    for (let i = 0; i < 50 && res.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200));
      res = await get(app.url, "/index.txt", { host });
    }
    expect(res).toMatchObject({ status: 200, body: "hello from inside\n" });
    // Header mode, on the /e2b base the SDK already knows.
    const byHeader = await get(app.url, "/e2b/index.txt", {
      "e2b-sandbox-id": sbx.sandboxId,
      "e2b-sandbox-port": "8765",
    });
    expect(byHeader).toMatchObject({ status: 200, body: "hello from inside\n" });
    const posted = await get(app.url, "/nope", { host }, "POST", "x".repeat(1000));
    expect(posted.status).toBe(501); // http.server has no POST: its own answer, relayed
    const closed = await get(app.url, "/", { host: sbx.getHost(8799) });
    expect(closed.status).toBe(502);
    expect(JSON.parse(closed.body)).toMatchObject({ sandboxId: sbx.sandboxId, port: 8799 });

    const wsHost = sbx.getHost(8766);
    let socket: WebSocket | undefined;
    for (let i = 0; i < 50 && !socket; i++) {
      socket = await openWs(app.url.replace(/^http/, "ws") + "/echo", wsHost).catch(
        () => undefined,
      );
      if (!socket) await new Promise((r) => setTimeout(r, 200));
    }
    expect(socket).toBeDefined();
    const reply = new Promise<string>((resolve) =>
      socket!.once("message", (d: Buffer) => resolve(d.toString("utf8"))),
    );
    socket!.send("ping through the gateway");
    expect(await reply).toBe("ping through the gateway");
    socket!.close();
    await sbx.commands.kill(web.pid);
    await sbx.commands.kill(echo.pid);
  }, 120_000);

  it("keeps the ports of a sandbox without public traffic to holders of its traffic token", async () => {
    const closed = await Sandbox.create("base", {
      metadata: { suite: `${suite}-private` },
      network: { allowPublicTraffic: false },
    });
    try {
      expect(closed.trafficAccessToken).toMatch(/\./);
      await closed.files.write("/tmp/web/index.txt", "private\n");
      await closed.commands.run("cd /tmp/web && python3 -m http.server 8765", { background: true });
      const host = closed.getHost(8765);
      const withToken = { host, "e2b-traffic-access-token": closed.trafficAccessToken as string };
      let res = await get(app.url, "/index.txt", withToken);
      for (let i = 0; i < 50 && res.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 200));
        res = await get(app.url, "/index.txt", withToken);
      }
      expect(res).toMatchObject({ status: 200, body: "private\n" });
      expect((await get(app.url, "/index.txt", { host })).status).toBe(403);
      const wrong = { host, "e2b-traffic-access-token": sbx.sandboxId };
      expect((await get(app.url, "/index.txt", wrong)).status).toBe(403);
    } finally {
      await closed.kill();
    }
  }, 150_000);

  it("raises the SDK's own errors for an unknown sandbox and a wrong key", async () => {
    await expect(Sandbox.getInfo("no-such-sandbox")).rejects.toBeInstanceOf(NotFoundError);
    expect(await Sandbox.kill("no-such-sandbox")).toBe(false);
    const wrong = `e2b_${"0".repeat(40)}`;
    await expect(Sandbox.list({ apiKey: wrong }).nextItems()).rejects.toBeInstanceOf(
      AuthenticationError,
    );
    // A key without `write` may look but not create, as on /api/v1.
    const admin = new AetheriumClient({ url: app.url, apiKey: app.apiKey });
    const { secret: readOnly } = await admin.apiKeys.create({
      name: `${suite}-ro`,
      scopes: ["read"],
      format: "e2b",
    });
    const seen = await Sandbox.list({
      apiKey: readOnly,
      query: { metadata: { suite } },
    }).nextItems();
    expect(seen.map((s) => s.sandboxId)).toEqual([sbx.sandboxId]);
    const refused = await Sandbox.create("base", { apiKey: readOnly }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(sdk.SandboxError);
    expect(String((refused as Error).message)).toMatch(/needs write/);
    // The in-sandbox API wants the sandbox's own access token, not just its id.
    const res = await fetch(`${app.url}/e2b/filesystem.Filesystem/Stat`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "e2b-sandbox-id": sbx.sandboxId,
        "e2b-sandbox-port": "49983",
        "x-access-token": `${"0".repeat(8)}-0000-0000-0000-${"0".repeat(12)}.${"0".repeat(64)}`,
      },
      body: JSON.stringify({ path: "/" }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: "unauthenticated" });
  }, 150_000);

  it("ends a sandbox at its timeout", async () => {
    const brief = await Sandbox.create("base", {
      metadata: { suite: `${suite}-brief` },
      timeoutMs: 600_000,
    });
    await brief.setTimeout(2_000);
    let gone: unknown;
    // The reaper sweeps every few seconds; bounded well past that.
    for (let i = 0; i < 180 && !gone; i++) {
      await new Promise((r) => setTimeout(r, 500));
      gone = await Sandbox.getInfo(brief.sandboxId).then(
        () => undefined,
        (e: unknown) => e,
      );
    }
    expect(gone).toBeInstanceOf(NotFoundError);
    expect(await brief.isRunning()).toBe(false);
  }, 120_000);

  it("kills the sandbox", async () => {
    await sbx.kill();
    expect(await Sandbox.kill(sbx.sandboxId)).toBe(false);
    await expect(Sandbox.getInfo(sbx.sandboxId)).rejects.toBeInstanceOf(NotFoundError);
  }, 60_000);
});
