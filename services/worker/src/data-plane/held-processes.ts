import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  RateLimitedError,
  isAetheriumError,
  type Logger,
} from "@aetherium/common";
import { sendBounded } from "@aetherium/core";
import {
  formatZodError,
  heldProcessOpenMessageSchema,
  type HeldProcessControlBody,
  type HeldProcessInfo,
  type HeldProcessOpenMessage,
  type HeldProcessSelector,
  type HeldProcessServerMessage,
} from "@aetherium/types";
import type { RawData, WebSocket } from "ws";
import { exitCodeForSignal, type ExecHandle } from "../sandbox/sandbox-manager.js";
import type { SandboxManagers } from "../sandbox/sandbox-managers.js";

/** Most held processes one worker keeps at once, over all its sandboxes. */
const MAX_HELD = 10_000;

/** How long a process stream may stay silent before its `start` or `attach` message. */
const OPEN_TIMEOUT_MS = 30_000;

/** One held process: the recorded command and the streams watching it now. */
interface Held {
  readonly vmId: string;
  readonly info: HeldProcessInfo;
  readonly handle: ExecHandle;
  readonly watchers: Set<WebSocket>;
}

type StartMessage = Extract<HeldProcessOpenMessage, { type: "start" }>;

/**
 * The commands a worker keeps running in its sandboxes on behalf of whoever started them (E2B's
 * background commands), reachable by pid or tag from any gateway: a process started through one
 * gateway is listed, watched, fed and signalled through another, and outlives the gateway that
 * started it (a gateway restart closes only the streams watching it).
 *
 * Held here, beside the sandbox, rather than in a shared registry: the worker is the one process
 * that must be alive for the command to be reachable at all, so nothing else has to be kept
 * consistent with it. Each command is recorded in `executions` like every other.
 *
 * Output goes to every stream attached at the time (none: it is only recorded); the slowest
 * stream holds the command back, as the agent's flow control does.
 */
export class HeldProcesses {
  readonly #managers: SandboxManagers;
  readonly #logger: Logger;
  readonly #maxBuffered: number;
  readonly #byVm = new Map<string, Map<number, Held>>();
  readonly #sockets = new Set<WebSocket>();
  #count = 0;

  constructor(options: { managers: SandboxManagers; logger: Logger; maxBufferedBytes: number }) {
    this.#managers = options.managers;
    this.#logger = options.logger;
    this.#maxBuffered = options.maxBufferedBytes;
  }

  /** The running held processes of a sandbox. */
  list(vmId: string): HeldProcessInfo[] {
    return [...(this.#byVm.get(vmId)?.values() ?? [])].map((h) => h.info);
  }

  /** Feeds, signals, resizes or closes the input of a held process. */
  async control(vmId: string, body: HeldProcessControlBody): Promise<void> {
    const held = this.#get(vmId, body.process);
    const { action } = body;
    switch (action.type) {
      case "stdin":
        return held.handle.write(Buffer.from(action.data, "base64"));
      case "closeStdin":
        return held.handle.closeStdin();
      case "signal":
        return held.handle.signal(action.signal);
      case "resize":
        if (!held.info.pty) throw new ConflictError("the process has no PTY to resize");
        return held.handle.resize(action.cols, action.rows);
    }
  }

  /**
   * Serves one process stream (`GET /internal/v1/vms/:id/processes/stream`): its first message
   * starts a command or attaches to one; then `started`, output and `exit` flow to it. Closing it
   * leaves the process running.
   */
  serve(ws: WebSocket, vmId: string): void {
    this.#sockets.add(ws);
    const timer = setTimeout(() => ws.close(1008, "no start or attach"), OPEN_TIMEOUT_MS);
    ws.once("close", () => {
      clearTimeout(timer);
      this.#sockets.delete(ws);
      for (const held of this.#byVm.get(vmId)?.values() ?? []) held.watchers.delete(ws);
    });
    ws.on("error", (err) => this.#logger.debug({ err, vmId }, "process stream socket error"));
    ws.once("message", (raw: RawData, isBinary: boolean) => {
      clearTimeout(timer);
      void this.#open(ws, vmId, raw, isBinary).catch((err: unknown) => this.#fail(ws, vmId, err));
    });
  }

  /** Closes every stream; the processes keep running in their sandboxes. */
  close(): void {
    for (const ws of this.#sockets) ws.terminate();
  }

  async #open(ws: WebSocket, vmId: string, raw: RawData, isBinary: boolean): Promise<void> {
    if (isBinary) throw new BadRequestError("process stream messages are JSON text frames");
    let value: unknown;
    try {
      value = JSON.parse(rawText(raw));
    } catch {
      throw new BadRequestError("message is not valid JSON");
    }
    const parsed = heldProcessOpenMessageSchema.safeParse(value);
    if (!parsed.success) {
      throw new BadRequestError(`invalid message: ${formatZodError(parsed.error)}`);
    }
    const msg = parsed.data;
    if (msg.type === "attach") {
      const held = this.#get(vmId, msg.process);
      held.watchers.add(ws);
      await this.#send(ws, { type: "started", pid: held.info.pid });
      return;
    }
    await this.#start(ws, vmId, msg);
  }

  async #start(ws: WebSocket, vmId: string, msg: StartMessage): Promise<void> {
    if (this.#count >= MAX_HELD) {
      throw new RateLimitedError(5, `at most ${MAX_HELD} held processes per worker`);
    }
    if (msg.tag !== undefined && this.#find(vmId, { tag: msg.tag })) {
      throw new ConflictError(`a process tagged ${msg.tag} is running`, {
        details: { reason: "tag_in_use" },
      });
    }
    const watchers = new Set<WebSocket>([ws]);
    let release!: () => void;
    // Output that comes before `started` has gone out waits for it.
    const ready = new Promise<void>((r) => (release = r));
    const fanOut = (type: "stdout" | "stderr") => async (data: Buffer) => {
      await ready;
      const text = JSON.stringify({ type, data: data.toString("base64") });
      await Promise.all(
        [...watchers].map((w) =>
          sendBounded(w, text, this.#maxBuffered).catch(() => watchers.delete(w)),
        ),
      );
    };
    const manager = await this.#managers.for(vmId);
    let handle: ExecHandle;
    try {
      handle = await manager.startExec(
        vmId,
        {
          command: msg.command,
          ...(msg.args ? { args: msg.args } : {}),
          ...(msg.env ? { env: msg.env } : {}),
          ...(msg.cwd ? { cwd: msg.cwd } : {}),
          ...(msg.user ? { user: msg.user } : {}),
          ...(msg.timeoutMs ? { timeoutMs: msg.timeoutMs } : {}),
          ...(msg.pty ? { pty: msg.pty } : {}),
          openStdin: msg.openStdin || msg.pty !== undefined,
        },
        { onStdout: fanOut("stdout"), onStderr: fanOut("stderr") },
      );
    } finally {
      release();
    }
    const info: HeldProcessInfo = {
      pid: handle.pid,
      ...(msg.tag !== undefined ? { tag: msg.tag } : {}),
      command: msg.command,
      args: msg.args ?? [],
      env: msg.env ?? {},
      ...(msg.cwd ? { cwd: msg.cwd } : {}),
      pty: msg.pty !== undefined,
    };
    const held: Held = { vmId, info, handle, watchers };
    let procs = this.#byVm.get(vmId);
    if (!procs) this.#byVm.set(vmId, (procs = new Map<number, Held>()));
    procs.set(info.pid, held);
    this.#count++;
    const forget = () => {
      if (this.#byVm.get(vmId)?.get(info.pid) === held) {
        this.#count--;
        procs.delete(info.pid);
        if (procs.size === 0) this.#byVm.delete(vmId);
      }
    };
    handle.done.then(
      async ({ result }) => {
        forget();
        const exit: HeldProcessServerMessage = {
          type: "exit",
          exitCode: result.exitCode ?? (result.signal ? exitCodeForSignal(result.signal) : -1),
          signal: result.signal,
          timedOut: result.timedOut,
          durationMs: Math.max(0, Math.round(result.durationMs)),
        };
        await Promise.all(
          [...watchers].map(async (w) => {
            await this.#send(w, exit);
            w.close(1000, "exited");
          }),
        );
      },
      (err: unknown) => {
        forget();
        for (const w of watchers) void this.#fail(w, vmId, err, 1011);
      },
    );
    if (ws.readyState === ws.OPEN) await this.#send(ws, { type: "started", pid: info.pid });
  }

  #get(vmId: string, selector: HeldProcessSelector): Held {
    const found = this.#find(vmId, selector);
    if (!found) {
      const what = "tag" in selector ? `tag ${selector.tag}` : `pid ${selector.pid}`;
      throw new NotFoundError("process", what);
    }
    return found;
  }

  #find(vmId: string, selector: HeldProcessSelector): Held | undefined {
    const procs = this.#byVm.get(vmId);
    if ("pid" in selector) return procs?.get(selector.pid);
    return [...(procs?.values() ?? [])].find((h) => h.info.tag === selector.tag);
  }

  #send(ws: WebSocket, msg: HeldProcessServerMessage): Promise<void> {
    return sendBounded(ws, JSON.stringify(msg), this.#maxBuffered).catch(() => undefined);
  }

  async #fail(ws: WebSocket, vmId: string, err: unknown, closeCode = 1000): Promise<void> {
    if (!isAetheriumError(err)) this.#logger.warn({ err, vmId }, "process stream failed");
    await this.#send(ws, {
      type: "error",
      code: isAetheriumError(err) ? err.code : "internal",
      message: isAetheriumError(err) ? err.message : "internal error",
    });
    ws.close(closeCode, "failed");
  }
}

function rawText(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString("utf8");
  return (Buffer.isBuffer(raw) ? raw : Buffer.from(raw)).toString("utf8");
}
