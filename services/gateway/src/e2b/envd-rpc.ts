import { Readable } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import {
  ConnectError,
  ServerStream,
  EnvelopeReader,
  deadlineMs,
  keepaliveMs,
  requestMessage,
  statusOfCode,
  toConnectError,
} from "./connect-protocol.js";
import { diff, type DirWatches, type WatchSpec } from "./dir-watch.js";
import { homeOf, resolvePath, type FilesystemOps } from "./filesystem-ops.js";
import type { ProcessNews, ProcessSelector, ProcessTable, ProcessWatch } from "./process-table.js";
import type { SandboxCall } from "./sandbox-access.js";

type Message = Record<string, unknown>;

/** What the in-sandbox RPC handlers reach. */
export interface EnvdRpcDeps {
  readonly processes: ProcessTable;
  readonly files: FilesystemOps;
  readonly watches: DirWatches;
}

/** How often a `WatchDir` stream looks at its directory again. */
const WATCH_POLL_MS = 1000;

/**
 * Streams a directory's changes (see {@link DirWatches}): the start event once the first look
 * succeeded, then the events of each later look, until the client leaves or the deadline passes.
 */
async function streamWatch(
  deps: EnvdRpcDeps,
  spec: WatchSpec,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const release = deps.watches.openStream();
  try {
    let last = await deps.watches.snapshot(spec);
    reply.hijack();
    const stream = new ServerStream(reply.raw);
    stream.send({ start: {} });
    const started = Date.now();
    const deadline = deadlineMs(req.headers["connect-timeout-ms"]);
    const keepalive = keepaliveMs(req.headers["keepalive-ping-interval"]);
    let quietSince = Date.now();
    // Bounded by the deadline when there is one, and by a day's worth of looks regardless.
    for (let i = 0; i < 86_400_000 / WATCH_POLL_MS && stream.open; i++) {
      await new Promise((r) => setTimeout(r, WATCH_POLL_MS));
      if (!stream.open) break;
      if (deadline !== undefined && Date.now() - started >= deadline) {
        stream.end(new ConnectError("deadline_exceeded", "the watch's deadline passed"));
        break;
      }
      let now;
      try {
        now = await deps.watches.snapshot(spec);
      } catch (err) {
        stream.end(toConnectError(err, req.id));
        break;
      }
      for (const e of diff(last, now)) stream.send({ filesystem: e });
      last = now;
      if (Date.now() - quietSince >= keepalive) {
        stream.send({ keepalive: {} });
        quietSince = Date.now();
      }
    }
    stream.end();
  } finally {
    release();
  }
}

const obj = (v: unknown): Message =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Message) : {};
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

function selector(m: Message): ProcessSelector {
  const s = obj(m.process);
  if (typeof s.pid === "number" && Number.isInteger(s.pid)) return { pid: s.pid };
  if (typeof s.pid === "string" && /^\d+$/.test(s.pid)) return { pid: Number(s.pid) };
  if (typeof s.tag === "string") return { tag: s.tag };
  throw new ConnectError("invalid_argument", "process must name a pid or a tag");
}

function ptySize(m: Message): { cols: number; rows: number } | undefined {
  if (m.pty === undefined || m.pty === null) return undefined;
  const size = obj(obj(m.pty).size);
  const cols = Number(size.cols ?? 0);
  const rows = Number(size.rows ?? 0);
  if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1) {
    throw new ConnectError("invalid_argument", "pty.size needs cols and rows of at least 1");
  }
  return { cols, rows };
}

function stringMap(v: unknown, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v))) {
    if (typeof val !== "string")
      throw new ConnectError("invalid_argument", `${field}.${k} must be a string`);
    out[k] = val;
  }
  return out;
}

/** The input bytes of a `ProcessInput` (`stdin` or `pty`, base64 in JSON). */
function inputData(m: Message): string {
  const input = obj(m.input);
  const data = str(input.stdin) ?? str(input.pty);
  if (data === undefined)
    throw new ConnectError("invalid_argument", "input must carry stdin or pty bytes");
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(data))
    throw new ConnectError("invalid_argument", "input bytes must be base64");
  // Connect's JSON accepts both base64 alphabets; the exec protocol takes the standard one.
  return Buffer.from(data, "base64").toString("base64");
}

function matches(p: { pid: number; tag?: string }, sel: ProcessSelector): boolean {
  return sel.pid !== undefined ? p.pid === sel.pid : p.tag === sel.tag;
}

const SIGNALS: Record<string, "SIGKILL" | "SIGTERM"> = {
  SIGNAL_SIGKILL: "SIGKILL",
  SIGNAL_SIGTERM: "SIGTERM",
  "9": "SIGKILL",
  "15": "SIGTERM",
};

/**
 * Streams a process's events to a server-stream call until it ends, the client leaves or the
 * call's deadline passes, with keep-alives at the interval the client asked for. Leaving closes
 * only this watch: the process runs on (E2B's background commands).
 */
function streamEvents(
  req: FastifyRequest,
  reply: FastifyReply,
  watch: (listener: (e: ProcessNews) => void) => Promise<ProcessWatch>,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let stream: ServerStream | undefined;
    const early: ProcessNews[] = [];
    let source: ProcessWatch | undefined;
    let paused = false;
    let finished = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (err?: ConnectError, drop = false) => {
      if (finished) return;
      finished = true;
      for (const t of timers) clearInterval(t);
      if (paused) source?.resume();
      paused = false;
      source?.close();
      if (drop) reply.raw.destroy();
      else stream?.end(err);
      resolve();
    };
    const deliver = (e: ProcessNews) => {
      if (finished) return;
      if (!stream) return void early.push(e);
      // Dropped as the sandbox's own connection was: the SDK then asks /health and tells a
      // sandbox that is gone (a TimeoutError) from a network hiccup.
      if ("lost" in e) return finish(undefined, true);
      const keptUp = stream.send({ event: e });
      if ("end" in e) return finish();
      if (!keptUp && !paused && source) {
        paused = true;
        source.pause();
        reply.raw.once("drain", () => {
          if (paused) source?.resume();
          paused = false;
        });
      }
    };
    watch(deliver).then(
      (proc) => {
        reply.hijack();
        stream = new ServerStream(reply.raw);
        reply.raw.once("close", () => finish());
        source = proc;
        for (const e of early.splice(0)) deliver(e);
        if (!stream.open || finished) return;
        timers.push(
          setInterval(
            () => stream?.send({ event: { keepalive: {} } }),
            keepaliveMs(req.headers["keepalive-ping-interval"]),
          ),
        );
        const deadline = deadlineMs(req.headers["connect-timeout-ms"]);
        if (deadline !== undefined) {
          timers.push(
            setTimeout(
              () => finish(new ConnectError("deadline_exceeded", "the call's deadline passed")),
              deadline,
            ),
          );
        }
      },
      (err: unknown) => {
        const e = toConnectError(err, req.id);
        reply.hijack();
        stream = new ServerStream(reply.raw);
        finish(e);
      },
    );
  });
}

/** `POST /e2b/process.Process/{method}`. */
export async function processRpc(
  deps: EnvdRpcDeps,
  call: SandboxCall,
  method: string,
  m: Message,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<Message | undefined> {
  const { processes } = deps;
  switch (method) {
    case "Start": {
      const p = obj(m.process);
      const cmd = str(p.cmd);
      if (!cmd) throw new ConnectError("invalid_argument", "process.cmd is required");
      const args = Array.isArray(p.args) ? p.args : [];
      if (!args.every((a): a is string => typeof a === "string")) {
        throw new ConnectError("invalid_argument", "process.args must be strings");
      }
      const cwd = str(p.cwd);
      const pty = ptySize(m);
      const tag = str(m.tag);
      await streamEvents(req, reply, (listener) =>
        processes.start(
          call.vmId,
          {
            config: {
              cmd,
              args,
              envs: stringMap(p.envs, "process.envs"),
              // E2B starts commands in the user's home unless told otherwise.
              cwd: cwd ? resolvePath(cwd, call.user) : homeOf(call.user),
            },
            ...(call.user ? { user: call.user } : {}),
            ...(tag !== undefined ? { tag } : {}),
            ...(pty ? { pty } : {}),
            stdin: m.stdin === true,
          },
          listener,
        ),
      );
      return undefined;
    }
    case "Connect": {
      const sel = selector(m);
      await streamEvents(req, reply, (listener) => processes.attach(call.vmId, sel, listener));
      return undefined;
    }
    case "List":
      return {
        processes: (await processes.list(call.vmId)).map((p) => ({
          config: {
            cmd: p.command,
            args: p.args,
            envs: p.env,
            ...(p.cwd ? { cwd: p.cwd } : {}),
          },
          pid: p.pid,
          ...(p.tag !== undefined ? { tag: p.tag } : {}),
        })),
      };
    case "SendInput":
      await processes.control(call.vmId, selector(m), { type: "stdin", data: inputData(m) });
      return {};
    case "SendSignal": {
      const signal = SIGNALS[String(m.signal)];
      if (!signal)
        throw new ConnectError(
          "invalid_argument",
          "signal must be SIGNAL_SIGKILL or SIGNAL_SIGTERM",
        );
      await processes.control(call.vmId, selector(m), { type: "signal", signal });
      return {};
    }
    case "CloseStdin":
      await processes.control(call.vmId, selector(m), { type: "closeStdin" });
      return {};
    case "Update": {
      const size = ptySize(m);
      const sel = selector(m);
      if (size) await processes.control(call.vmId, sel, { type: "resize", ...size });
      else if (!(await processes.list(call.vmId)).some((p) => matches(p, sel))) {
        throw new ConnectError("not_found", "no such process");
      }
      return {};
    }
    default:
      throw new ConnectError("unimplemented", `process.Process/${method} is not available`);
  }
}

/** `POST /e2b/filesystem.Filesystem/{method}`. */
export async function filesystemRpc(
  deps: EnvdRpcDeps,
  call: SandboxCall,
  method: string,
  m: Message,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<Message | undefined> {
  const { files, watches } = deps;
  const spec = (): WatchSpec => ({
    vmId: call.vmId,
    path: path("path"),
    recursive: m.recursive === true,
    user: call.user,
    // `allowNetworkMounts` needs nothing: the watch lists, which works on any mount.
    includeEntry: m.includeEntry === true,
  });
  const path = (field: string) => resolvePath(str(m[field]) ?? "", call.user);
  switch (method) {
    case "Stat":
      return { entry: await files.stat(call.vmId, path("path"), call.user) };
    case "MakeDir":
      return { entry: await files.makeDir(call.vmId, path("path"), call.user) };
    case "Move":
      return { entry: await files.move(call.vmId, path("source"), path("destination"), call.user) };
    case "ListDir": {
      const depth = m.depth === undefined ? 1 : Number(m.depth);
      if (!Number.isInteger(depth) || depth < 0 || depth > 64) {
        throw new ConnectError("invalid_argument", "depth must be an integer from 0 to 64");
      }
      return { entries: await files.list(call.vmId, path("path"), depth || 1, call.user) };
    }
    case "Remove":
      await files.remove(call.vmId, path("path"), call.user);
      return {};
    case "WatchDir":
      await streamWatch(deps, spec(), req, reply);
      return undefined;
    case "CreateWatcher":
      return { watcherId: await watches.create(spec()) };
    case "GetWatcherEvents":
      return { events: await watches.events(call.vmId, str(m.watcherId) ?? "") };
    case "RemoveWatcher":
      watches.remove(call.vmId, str(m.watcherId) ?? "");
      return {};
    default:
      throw new ConnectError("unimplemented", `filesystem.Filesystem/${method} is not available`);
  }
}

/**
 * Runs one RPC: parses the request (enveloped for streams), authorizes it, and answers a unary
 * call with JSON or a Connect error; stream calls answer through their own stream.
 */
export async function answerRpc(
  req: FastifyRequest,
  reply: FastifyReply,
  authorize: () => Promise<SandboxCall>,
  run: (call: SandboxCall, m: Message) => Promise<Message | undefined>,
): Promise<void> {
  const streaming = String(req.headers["content-type"] ?? "").startsWith("application/connect+");
  try {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const m = requestMessage(body, streaming);
    const call = await authorize();
    const out = await run(call, m);
    if (out !== undefined && !reply.sent)
      await reply.status(200).type("application/json").send(JSON.stringify(out));
  } catch (err) {
    const e = toConnectError(err, req.id);
    if (reply.sent || reply.raw.headersSent) return;
    if (streaming) {
      reply.hijack();
      new ServerStream(reply.raw).end(e);
      return;
    }
    await reply
      .status(statusOfCode(e.code))
      .type("application/json")
      .send(JSON.stringify({ code: e.code, message: e.message }));
  }
}

/** The largest `StreamInput` message taken: a unary call's body limit. */
const MAX_INPUT_MESSAGE_BYTES = 1024 * 1024;

/**
 * Acts on one `StreamInputRequest`: `start` picks the process (not_found if it is not running),
 * `data` feeds it through the worker's control path, `keepalive` does nothing.
 */
async function streamInputMessage(
  processes: ProcessTable,
  call: SandboxCall,
  m: Message,
  target: ProcessSelector | undefined,
): Promise<ProcessSelector | undefined> {
  if ("start" in m) {
    const sel = selector(obj(m.start));
    if (!(await processes.list(call.vmId)).some((p) => matches(p, sel))) {
      throw new ConnectError("not_found", "no such process");
    }
    return sel;
  }
  if ("data" in m) {
    if (!target) throw new ConnectError("invalid_argument", "send a start message before any data");
    const data = inputData(obj(m.data));
    if (data.length > 0) await processes.control(call.vmId, target, { type: "stdin", data });
    return target;
  }
  if ("keepalive" in m) return target;
  throw new ConnectError("invalid_argument", "each message is one of start, data or keepalive");
}

/**
 * `POST /e2b/process.Process/StreamInput`, Connect's client stream: the request body is read
 * message by message (`start`, then `data` and `keepalive`), each input reaching the process
 * before the next message is read; the answer is one empty message and end-of-stream, or
 * end-of-stream carrying the error that stopped it (the rest of the body is then drained).
 * `Connect-Timeout-Ms` bounds the whole call.
 */
export async function answerStreamInput(
  processes: ProcessTable,
  req: FastifyRequest,
  reply: FastifyReply,
  authorize: () => Promise<SandboxCall>,
): Promise<void> {
  // No body at all (an empty stream) reaches no parser.
  const body = req.body instanceof Readable ? req.body : Readable.from([] as Buffer[]);
  if (!String(req.headers["content-type"] ?? "").startsWith("application/connect+json")) {
    body.resume();
    // Connect's answer to a client stream called as unary or in a codec we do not speak.
    await reply
      .status(415)
      .header("accept-post", "application/connect+json")
      .type("application/json")
      .send(
        JSON.stringify({
          code: "unimplemented",
          message: "StreamInput is a client stream: send application/connect+json envelopes",
        }),
      );
    return;
  }
  reply.hijack();
  let error: ConnectError | undefined;
  let timer: NodeJS.Timeout | undefined;
  // Set once the answer is decided: whatever the client still sends is read and dropped (not
  // acted on), so it hears the answer rather than a reset connection.
  let stopped = false;
  try {
    const call = await authorize();
    const reader = new EnvelopeReader(MAX_INPUT_MESSAGE_BYTES);
    const work = new Promise<void>((resolve, reject) => {
      let target: ProcessSelector | undefined;
      // The chunk being acted on: the body's end can be told before its last chunk is done.
      let busy: Promise<void> = Promise.resolve();
      body.on("data", (chunk: Buffer) => {
        if (stopped) return;
        // Each input reaches the process before more of the body is read.
        body.pause();
        busy = (async () => {
          try {
            for (const m of reader.push(chunk)) {
              if (stopped) return;
              target = await streamInputMessage(processes, call, m, target);
            }
            if (reader.done) return resolve();
            body.resume();
          } catch (err) {
            reject(toConnectError(err, req.id));
          }
        })();
      });
      body.once("end", () => {
        void busy.then(() => {
          try {
            reader.finish();
            resolve();
          } catch (err) {
            reject(toConnectError(err, req.id));
          }
        });
      });
      body.once("error", reject);
      body.once("aborted", () => reject(new ConnectError("canceled", "the client left")));
    });
    const deadline = deadlineMs(req.headers["connect-timeout-ms"]);
    await (deadline === undefined
      ? work
      : Promise.race([
          work,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new ConnectError("deadline_exceeded", "the call's deadline passed")),
              deadline,
            );
          }),
        ]));
  } catch (err) {
    error = toConnectError(err, req.id);
  } finally {
    stopped = true;
    clearTimeout(timer);
  }
  if (reply.raw.destroyed) return;
  const stream = new ServerStream(reply.raw);
  if (!error) stream.send({});
  stream.end(error);
  body.resume();
}
