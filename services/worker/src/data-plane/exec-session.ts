import { BadRequestError, ConflictError, isAetheriumError, type Logger } from "@aetherium/common";
import {
  execClientMessageSchema,
  formatZodError,
  type ExecClientMessage,
  type ExecServerMessage,
} from "@aetherium/types";
import type { RawData, WebSocket } from "ws";
import {
  exitCodeForSignal,
  type ExecHandle,
  type SandboxManager,
} from "../sandbox/sandbox-manager.js";
import { sendBounded, type BufferWatermark } from "@aetherium/core";

/** What one exec WebSocket session needs. */
export interface ExecSessionOptions {
  readonly manager: SandboxManager;
  readonly vmId: string;
  readonly logger: Logger;
  /** Unsent bytes the socket may hold before the command's output is held back. */
  readonly maxBufferedBytes: number;
  /**
   * Stdin bytes that may wait for the agent before the socket is no longer read (default 8 MiB).
   * Generous, because while the socket is not read a signal behind the input waits too.
   */
  readonly maxPendingInputBytes?: number;
  /** Records the highest `bufferedAmount` of the socket. */
  readonly watermark?: BufferWatermark;
}

/**
 * The `error` recorded for a command whose client closed the socket while it ran: closing a
 * terminal is how an interactive shell normally ends, so it must not read as a failure.
 */
const CLOSED_BY_CLIENT = "closed by client";

type StartMessage = Extract<ExecClientMessage, { type: "start" }>;

/**
 * Serves one exec WebSocket (`GET /internal/v1/vms/:id/exec`) with exactly the public protocol
 * (`libs/types/src/api/exec-ws.ts`), so a gateway relays it unchanged: `start` runs the command
 * through {@link SandboxManager.startExec} (recorded in `executions`), output flows back as
 * `stdout`/`stderr`, then `exit`, then the socket closes.
 *
 * Backpressure: an output chunk is acknowledged to the agent only once the socket holds at most
 * `maxBufferedBytes` unsent, so a slow client slows the command (the agent stops reading its
 * pipes) instead of making the worker buffer. Input too: while more than `maxPendingInputBytes`
 * of stdin wait for the agent, the socket is not read. Signals do not queue behind input; stdin,
 * closeStdin and resize keep their order. A client that goes away kills the
 * command, recorded as "closed by client". Resolves when the socket is closed and the command (if
 * any) is recorded as ended.
 */
export function runExecSession(ws: WebSocket, options: ExecSessionOptions): Promise<void> {
  const { manager, vmId, logger, maxBufferedBytes } = options;
  const maxInput = options.maxPendingInputBytes ?? 8 * 1024 * 1024;
  let state: "waiting" | "starting" | "running" | "ended" = "waiting";
  let handle: ExecHandle | undefined;
  let ops: Promise<void> = Promise.resolve();
  // Settles once `start` has been handled (the command runs, or could not start).
  let startHandled: Promise<void> = Promise.resolve();
  let pendingInput = 0;
  let inputPaused = false;
  let released!: () => void;
  // Output that arrives before `started` has been sent waits for it.
  const startedSent = new Promise<void>((r) => (released = r));
  let finished!: () => void;
  const closed = new Promise<void>((r) => (finished = r));

  const open = (): boolean => ws.readyState === ws.OPEN;
  const send = (msg: ExecServerMessage): Promise<void> =>
    sendBounded(ws, JSON.stringify(msg), maxBufferedBytes, {
      ...(options.watermark ? { watermark: options.watermark } : {}),
    }).catch(() => {
      // The client left; the close handler kills the command.
    });
  const fail = (err: unknown): Promise<void> => {
    if (!isAetheriumError(err)) logger.warn({ err, vmId }, "exec session failed");
    return send({
      type: "error",
      code: isAetheriumError(err) ? err.code : "internal",
      message: isAetheriumError(err) ? err.message : "internal error",
    });
  };
  const output = (stream: "stdout" | "stderr") => async (data: Buffer) => {
    await startedSent;
    if (open()) await send({ type: stream, data: data.toString("base64") });
  };

  const start = async (msg: StartMessage): Promise<void> => {
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
          openStdin: true,
        },
        { onStdout: output("stdout"), onStderr: output("stderr") },
      );
    } catch (err) {
      state = "ended";
      released();
      await fail(err);
      ws.close(1000, "start failed");
      return;
    }
    state = "running";
    if (!open()) {
      // The client left while the command started.
      released();
      await handle.kill(CLOSED_BY_CLIENT).catch(() => {});
      return;
    }
    await send({ type: "started", executionId: handle.executionId });
    released();
    handle.done.then(
      async ({ result }) => {
        state = "ended";
        await send({
          type: "exit",
          exitCode: result.exitCode ?? (result.signal ? exitCodeForSignal(result.signal) : -1),
          signal: result.signal,
          timedOut: result.timedOut,
          durationMs: Math.max(0, Math.round(result.durationMs)),
        });
        ws.close(1000, "exited");
      },
      async (err: unknown) => {
        state = "ended";
        await fail(err);
        ws.close(1011, "agent connection lost");
      },
    );
  };

  const run = async (op: (h: ExecHandle) => Promise<void>): Promise<void> => {
    if (!handle || state !== "running") return;
    try {
      await op(handle);
    } catch (err) {
      // After the command ended, input racing its exit is not worth an error.
      if (state === "running") await fail(err);
    }
  };
  // Input, closeStdin and resize run one after another, in the order the client sent them (a
  // resize applies to the input typed after it).
  const enqueue = (op: (h: ExecHandle) => Promise<void>): void => {
    ops = ops.then(() => run(op));
  };
  // Signals do not queue behind input a command is not reading (Ctrl-C must get through).
  const urgent = (op: (h: ExecHandle) => Promise<void>): void => {
    void startHandled.then(() => run(op));
  };

  const onMessage = (raw: RawData, isBinary: boolean): void => {
    if (isBinary) {
      void fail(new BadRequestError("exec messages are JSON text frames"));
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(rawText(raw));
    } catch {
      void fail(new BadRequestError("message is not valid JSON"));
      return;
    }
    const parsed = execClientMessageSchema.safeParse(value);
    if (!parsed.success) {
      void fail(new BadRequestError(`invalid message: ${formatZodError(parsed.error)}`));
      return;
    }
    const msg = parsed.data;
    if (msg.type === "start") {
      if (state !== "waiting") {
        void fail(new ConflictError("the command has already been started"));
        return;
      }
      // Marked at once: input sent right behind `start` waits for the command, not an error.
      state = "starting";
      ops = ops.then(() => start(msg));
      startHandled = ops;
      return;
    }
    if (state === "waiting") {
      void fail(new BadRequestError(`send start before ${msg.type}`));
      return;
    }
    switch (msg.type) {
      case "stdin": {
        const data = Buffer.from(msg.data, "base64");
        pendingInput += data.length;
        if (pendingInput > maxInput && !inputPaused) {
          inputPaused = true;
          ws.pause();
        }
        enqueue((h) => h.write(data));
        ops = ops.then(() => {
          pendingInput -= data.length;
          if (inputPaused && pendingInput <= maxInput / 2) {
            inputPaused = false;
            ws.resume();
          }
        });
        return;
      }
      case "closeStdin":
        enqueue((h) => h.closeStdin());
        return;
      case "signal":
        urgent((h) => h.signal(msg.signal));
        return;
      case "resize":
        enqueue((h) => h.resize(msg.cols, msg.rows));
        return;
    }
  };

  ws.on("message", onMessage);
  ws.on("error", (err) => logger.debug({ err, vmId }, "exec socket error"));
  ws.on("close", () => {
    released();
    void (async () => {
      await ops.catch(() => {});
      if (handle && state === "running") await handle.kill(CLOSED_BY_CLIENT).catch(() => {});
      await handle?.done.catch(() => {});
      finished();
    })();
  });
  return closed;
}

function rawText(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString("utf8");
  return (Buffer.isBuffer(raw) ? raw : Buffer.from(raw)).toString("utf8");
}
