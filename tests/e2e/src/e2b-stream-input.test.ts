import { execFile } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Sandbox } from "e2b";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startAetherium, type StartedAetherium } from "./start-aetherium.js";

/*
 * `process.Process/StreamInput`, which the JS SDK does not call (other clients of envd's Connect
 * API do): a real HTTP/1.1 client stream, message by message, into a process the real `e2b` SDK
 * started in a real sandbox.
 */

const run = promisify(execFile);
const AETHER = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../services/cli/dist/main.js",
);

let app: StartedAetherium;
let apiKey: string;
let sbx: Sandbox | undefined;

beforeAll(async () => {
  app = await startAetherium({ timeoutMs: 120_000 });
  if (!/sandboxes:\s+ready on docker/.test(app.stdout())) {
    throw new Error(`these tests need Docker and the base image:\n${app.stdout()}`);
  }
  const made = await run(process.execPath, [AETHER, "keys", "create", "stream-input", "--e2b"], {
    env: { ...process.env, AETHERIUM_URL: app.url, AETHERIUM_API_KEY: app.apiKey, NO_COLOR: "1" },
  });
  apiKey = made.stdout.trim();
}, 150_000);

afterAll(async () => {
  if (sbx) await Sandbox.kill(sbx.sandboxId, opts()).catch(() => undefined);
  await app?.cleanup();
}, 60_000);

const opts = () => ({ apiKey, apiUrl: `${app.url}/e2b`, sandboxUrl: `${app.url}/e2b` });

function envelope(message: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(json.length, 1);
  return Buffer.concat([head, json]);
}

function frames(raw: Buffer): { flags: number; json: unknown }[] {
  const out: { flags: number; json: unknown }[] = [];
  for (let at = 0; at + 5 <= raw.length && out.length < 100;) {
    const len = raw.readUInt32BE(at + 1);
    out.push({
      flags: raw[at] ?? 0,
      json: JSON.parse(raw.subarray(at + 5, at + 5 + len).toString()),
    });
    at += 5 + len;
  }
  return out;
}

/** A StreamInput call left open: `send` writes one message now, `close` ends it and reads the answer. */
function openStreamInput(s: Sandbox) {
  const token = (s as unknown as { envdAccessToken: string }).envdAccessToken;
  const req = http.request(new URL("/e2b/process.Process/StreamInput", app.url), {
    method: "POST",
    headers: {
      "content-type": "application/connect+json",
      "connect-protocol-version": "1",
      "e2b-sandbox-id": s.sandboxId,
      "e2b-sandbox-port": "49983",
      "x-access-token": token,
    },
  });
  const answer = new Promise<{ status: number; type: string; body: Buffer }>((resolve, reject) => {
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers["content-type"]),
          body: Buffer.concat(chunks),
        }),
      );
    });
    req.on("error", reject);
  });
  req.flushHeaders();
  return {
    answer,
    send: (m: unknown) => new Promise<void>((r) => req.write(envelope(m), () => r())),
    close: async () => {
      req.end();
      return answer;
    },
  };
}

const b64 = (t: string) => Buffer.from(t).toString("base64");

it("feeds a running command's stdin chunk by chunk as the stream arrives", async () => {
  sbx = await Sandbox.create("base", { ...opts(), timeoutMs: 300_000 });
  const cat = await sbx.commands.run("cat > /tmp/streamed.txt", { background: true, stdin: true });

  const stream = openStreamInput(sbx);
  await stream.send({ start: { process: { pid: cat.pid } } });
  await stream.send({ data: { input: { stdin: b64("first chunk\n") } } });
  // The first chunk is in the file while the stream is still open: forwarded as it came.
  let soFar = "";
  for (let i = 0; i < 60 && soFar !== "first chunk\n"; i++) {
    soFar = await sbx.files.read("/tmp/streamed.txt");
    if (soFar !== "first chunk\n") await new Promise((r) => setTimeout(r, 500));
  }
  expect(soFar).toBe("first chunk\n");
  await stream.send({ keepalive: {} });
  await stream.send({ data: { input: { stdin: b64("second chunk\n") } } });
  const answer = await stream.close();
  expect(answer.status).toBe(200);
  expect(answer.type).toBe("application/connect+json");
  expect(frames(answer.body)).toEqual([
    { flags: 0, json: {} },
    { flags: 2, json: {} },
  ]);

  await sbx.commands.closeStdin(cat.pid);
  expect((await cat.wait()).exitCode).toBe(0);
  expect(await sbx.files.read("/tmp/streamed.txt")).toBe("first chunk\nsecond chunk\n");
}, 240_000);

it("answers not_found for a pid that is not running while the client is still sending", async () => {
  expect(sbx).toBeDefined();
  const stream = openStreamInput(sbx!);
  await stream.send({ start: { process: { pid: 999_999 } } });
  // The answer comes with the request still open, and the connection is not reset.
  const answer = await stream.answer;
  expect(answer.status).toBe(200);
  expect(frames(answer.body)).toEqual([
    { flags: 2, json: { error: { code: "not_found", message: expect.any(String) } } },
  ]);
  await stream.send({ data: { input: { stdin: b64("dropped\n") } } });
  await stream.close();
}, 60_000);
