import {
  execStartMessageSchema,
  type ExecClientMessage,
  type ExecServerMessage,
} from "@aetherium/types";
import type { Logger } from "@aetherium/common";
import type { WebSocket } from "ws";
import type { DataPlaneRouter } from "../data-plane/data-plane-router.js";
import { ConnectError } from "./connect-protocol.js";

/** A process as `process.Process/List` describes it (E2B's `ProcessConfig`). */
export interface ProcessConfig {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly envs: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

/** One event of E2B's `ProcessEvent`, in its JSON form (bytes base64). */
export type ProcessEvent =
  | { start: { pid: number } }
  | { data: { stdout: string } | { stderr: string } | { pty: string } }
  | { end: { exitCode: number; exited: boolean; status: string; error?: string } }
  | { keepalive: Record<string, never> };

/**
 * What listeners of a process hear: its events, or `lost` when the way to it broke before it
 * ended (the sandbox went away), which a stream reports as `unavailable` rather than as an exit.
 */
export type ProcessNews = ProcessEvent | { lost: string };

/** What `start` needs besides the command. */
export interface StartOptions {
  readonly config: ProcessConfig;
  readonly user?: string;
  readonly tag?: string;
  readonly pty?: { cols: number; rows: number };
  /** Keep stdin open for `SendInput` (E2B closes it unless asked). */
  readonly stdin: boolean;
}

/** Most processes one gateway tracks at once, over all sandboxes. */
const MAX_PROCESSES = 10_000;

/**
 * One running process: the exec WebSocket to the worker that runs it, held by the gateway so the
 * process outlives the call that started it (E2B's background commands), and the listeners of
 * its events (the `Start` call, then any `Connect`).
 */
export class SandboxProcess {
  readonly #listeners = new Set<(event: ProcessNews) => void>();
  #ended = false;
  #pausers = 0;

  constructor(
    readonly pid: number,
    readonly vmId: string,
    readonly options: StartOptions,
    private readonly ws: WebSocket,
  ) {}

  get ended(): boolean {
    return this.#ended;
  }

  /** Calls `fn` with every event from now on; returns the unsubscribe. */
  subscribe(fn: (event: ProcessNews) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Sends a message to the running command; `not_found` once it ended. */
  send(message: ExecClientMessage): void {
    if (this.#ended) throw new ConnectError("not_found", `process ${this.pid} has ended`);
    this.ws.send(JSON.stringify(message));
  }

  /**
   * Stops reading the command's output while a listener's client catches up: the worker then
   * stops reading the sandbox's pipes, so a slow client slows the command instead of making the
   * gateway buffer. Each `pause` is undone by one `resume`.
   */
  pause(): void {
    if (this.#pausers++ === 0) this.ws.pause();
  }

  resume(): void {
    if (this.#pausers > 0 && --this.#pausers === 0) this.ws.resume();
  }

  emit(event: ProcessNews): void {
    if ("end" in event || "lost" in event) this.#ended = true;
    for (const fn of [...this.#listeners]) fn(event);
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * The processes started through `/e2b`, per sandbox, in this gateway's memory. Each runs over
 * the worker's exec WebSocket (the data plane every other command uses); pids are this table's
 * own numbers, unique per gateway. A process started through another gateway is not seen here.
 */
export class ProcessTable {
  readonly #router: DataPlaneRouter;
  readonly #logger: Logger;
  readonly #byPid = new Map<number, SandboxProcess>();
  #nextPid = 1000;

  constructor(router: DataPlaneRouter, logger: Logger) {
    this.#router = router;
    this.#logger = logger;
  }

  /**
   * Starts a command and resolves once the worker reports it started; `listener` hears every
   * event from the `start` on, so no output is lost between the two.
   */
  async start(
    vmId: string,
    options: StartOptions,
    listener: (event: ProcessNews) => void,
  ): Promise<SandboxProcess> {
    if (this.#byPid.size >= MAX_PROCESSES) {
      throw new ConnectError("resource_exhausted", `at most ${MAX_PROCESSES} processes at once`);
    }
    if (options.tag !== undefined && this.#find(vmId, { tag: options.tag })) {
      throw new ConnectError("already_exists", `a process tagged ${options.tag} is running`);
    }
    const parsed = execStartMessageSchema.safeParse({
      type: "start",
      command: options.config.cmd,
      args: [...options.config.args],
      ...(Object.keys(options.config.envs).length > 0 ? { env: options.config.envs } : {}),
      ...(options.config.cwd ? { cwd: options.config.cwd } : {}),
      ...(options.user ? { user: options.user } : {}),
      ...(options.pty ? { pty: options.pty } : {}),
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConnectError(
        "invalid_argument",
        `${issue?.path.join(".") || "process"}: ${issue?.message ?? "invalid"}`,
      );
    }
    const ws = await this.#router.openExec(vmId);
    const pid = this.#nextPid++;
    const proc = new SandboxProcess(pid, vmId, options, ws);
    proc.subscribe(listener);
    await new Promise<void>((resolve, reject) => {
      let started = false;
      ws.on("message", (raw: Buffer) => {
        let msg: ExecServerMessage;
        try {
          msg = JSON.parse(raw.toString("utf8")) as ExecServerMessage;
        } catch {
          return;
        }
        switch (msg.type) {
          case "started":
            started = true;
            this.#byPid.set(pid, proc);
            proc.emit({ start: { pid } });
            // E2B gives a command no stdin unless asked; a PTY keeps its input either way.
            if (!options.stdin && !options.pty) proc.send({ type: "closeStdin" });
            resolve();
            break;
          case "stdout":
            proc.emit({ data: options.pty ? { pty: msg.data } : { stdout: msg.data } });
            break;
          case "stderr":
            proc.emit({ data: { stderr: msg.data } });
            break;
          case "exit": {
            const status = msg.signal ? `signal: ${msg.signal}` : `exit status ${msg.exitCode}`;
            this.#byPid.delete(pid);
            proc.emit({ end: { exitCode: msg.exitCode, exited: !msg.signal, status } });
            ws.close();
            break;
          }
          case "error":
            if (!started) {
              reject(
                new ConnectError(
                  msg.code === "bad_request" ? "invalid_argument" : "unavailable",
                  msg.message,
                ),
              );
              ws.close();
              return;
            }
            // One operation failed (a resize, input to a closed stdin); the command runs on, and
            // the worker closes the socket when the sandbox itself is gone.
            this.#logger.warn(
              { vmId, pid, code: msg.code, message: msg.message },
              "e2b process operation failed",
            );
            break;
        }
      });
      ws.on("close", () => {
        if (!started)
          reject(
            new ConnectError("unavailable", "the sandbox closed the command before it started"),
          );
        else if (!proc.ended) {
          this.#byPid.delete(pid);
          proc.emit({ lost: "lost the connection to the sandbox" });
        }
      });
      ws.on("error", () => undefined);
      ws.send(JSON.stringify(parsed.data));
    });
    return proc;
  }

  /** The running process of `vmId` that `selector` names, or `not_found`. */
  get(vmId: string, selector: { pid?: number; tag?: string }): SandboxProcess {
    const found = this.#find(vmId, selector);
    if (!found) {
      const what = selector.tag !== undefined ? `tag ${selector.tag}` : `pid ${selector.pid}`;
      throw new ConnectError("not_found", `process with ${what} not found`);
    }
    return found;
  }

  /** The running processes of `vmId`. */
  list(vmId: string): SandboxProcess[] {
    return [...this.#byPid.values()].filter((p) => p.vmId === vmId && !p.ended);
  }

  /** Closes every process's connection (the gateway is shutting down). */
  closeAll(): void {
    for (const p of this.#byPid.values()) p.close();
    this.#byPid.clear();
  }

  #find(vmId: string, selector: { pid?: number; tag?: string }): SandboxProcess | undefined {
    if (selector.pid !== undefined) {
      const p = this.#byPid.get(selector.pid);
      return p && p.vmId === vmId && !p.ended ? p : undefined;
    }
    if (selector.tag !== undefined) {
      return this.list(vmId).find((p) => p.options.tag === selector.tag);
    }
    return undefined;
  }
}
