import {
  heldProcessOpenMessageSchema,
  heldProcessServerMessageSchema,
  type HeldProcessControlBody,
  type HeldProcessInfo,
  type HeldProcessOpenMessage,
  type HeldProcessSelector,
} from "@aetherium/types";
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

/** A pid or a tag, as the in-sandbox API names a process. */
export interface ProcessSelector {
  readonly pid?: number;
  readonly tag?: string;
}

/** One input, signal, resize or end of input, as the worker takes it. */
export type ProcessAction = HeldProcessControlBody["action"];

/**
 * One stream watching a process: the WebSocket to the worker that holds it. Closing it stops
 * the watching; the process runs on.
 */
export class ProcessWatch {
  #pausers = 0;

  constructor(
    readonly pid: number,
    private readonly ws: WebSocket,
  ) {}

  /**
   * Stops reading the process's output while the client catches up: the worker then holds the
   * command back instead of the gateway buffering. Each `pause` is undone by one `resume`.
   */
  pause(): void {
    if (this.#pausers++ === 0) this.ws.pause();
  }

  resume(): void {
    if (this.#pausers > 0 && --this.#pausers === 0) this.ws.resume();
  }

  /** Stops watching; the process keeps running. */
  close(): void {
    this.ws.close();
  }
}

/**
 * The in-sandbox API's way to processes. They are held by the worker that runs the sandbox (its
 * held processes), not by this gateway: any gateway starts, lists, watches, feeds and signals
 * them, pids are the processes' own pids in the sandbox, and a gateway restart only ends the
 * streams that were watching through it.
 */
export class ProcessTable {
  readonly #router: DataPlaneRouter;
  readonly #open = new Set<WebSocket>();

  constructor(router: DataPlaneRouter) {
    this.#router = router;
  }

  /**
   * Starts a command and resolves once the worker reports it started; `listener` hears every
   * event from the `start` on, so no output is lost between the two.
   */
  start(
    vmId: string,
    options: StartOptions,
    listener: (event: ProcessNews) => void,
  ): Promise<ProcessWatch> {
    const { config } = options;
    const parsed = heldProcessOpenMessageSchema.safeParse({
      type: "start",
      command: config.cmd,
      args: [...config.args],
      ...(Object.keys(config.envs).length > 0 ? { env: config.envs } : {}),
      ...(config.cwd ? { cwd: config.cwd } : {}),
      ...(options.user ? { user: options.user } : {}),
      ...(options.pty ? { pty: options.pty } : {}),
      ...(options.tag !== undefined ? { tag: options.tag } : {}),
      openStdin: options.stdin,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConnectError(
        "invalid_argument",
        `${issue?.path.join(".") || "process"}: ${issue?.message ?? "invalid"}`,
      );
    }
    return this.#watch(vmId, parsed.data, options.pty !== undefined, listener);
  }

  /** Watches a running process from now on: its `start` event, then its output and end. */
  attach(
    vmId: string,
    selector: ProcessSelector,
    listener: (event: ProcessNews) => void,
  ): Promise<ProcessWatch> {
    return this.#watch(vmId, { type: "attach", process: held(selector) }, false, listener);
  }

  /** The running processes of `vmId`, whichever gateway started them. */
  list(vmId: string): Promise<HeldProcessInfo[]> {
    return this.#router.listProcesses(vmId);
  }

  /** Feeds, signals, resizes or closes the input of the process `selector` names. */
  control(vmId: string, selector: ProcessSelector, action: ProcessAction): Promise<void> {
    return this.#router.controlProcess(vmId, { process: held(selector), action });
  }

  /** Closes every stream watching through this gateway (it is shutting down). */
  closeAll(): void {
    for (const ws of this.#open) ws.close();
    this.#open.clear();
  }

  async #watch(
    vmId: string,
    open: HeldProcessOpenMessage,
    pty: boolean,
    listener: (event: ProcessNews) => void,
  ): Promise<ProcessWatch> {
    const ws = await this.#router.openProcessStream(vmId);
    this.#open.add(ws);
    return new Promise<ProcessWatch>((resolve, reject) => {
      let watch: ProcessWatch | undefined;
      let ended = false;
      ws.on("message", (raw: Buffer) => {
        let value: unknown;
        try {
          value = JSON.parse(raw.toString("utf8"));
        } catch {
          return;
        }
        const parsed = heldProcessServerMessageSchema.safeParse(value);
        if (!parsed.success) return;
        const msg = parsed.data;
        switch (msg.type) {
          case "started":
            watch = new ProcessWatch(msg.pid, ws);
            listener({ start: { pid: msg.pid } });
            resolve(watch);
            break;
          case "stdout":
            listener({ data: pty ? { pty: msg.data } : { stdout: msg.data } });
            break;
          case "stderr":
            listener({ data: { stderr: msg.data } });
            break;
          case "exit": {
            const status = msg.signal ? `signal: ${msg.signal}` : `exit status ${msg.exitCode}`;
            ended = true;
            listener({ end: { exitCode: msg.exitCode, exited: !msg.signal, status } });
            ws.close();
            break;
          }
          case "error":
            if (!watch) {
              reject(startError(msg.code, msg.message));
              ws.close();
            }
            break;
        }
      });
      ws.on("close", () => {
        this.#open.delete(ws);
        if (!watch) {
          reject(new ConnectError("unavailable", "the sandbox closed the process stream"));
        } else if (!ended) {
          ended = true;
          listener({ lost: "lost the connection to the sandbox" });
        }
      });
      ws.on("error", () => undefined);
      ws.send(JSON.stringify(open));
    });
  }
}

function held(selector: ProcessSelector): HeldProcessSelector {
  if (selector.pid !== undefined) return { pid: selector.pid };
  if (selector.tag !== undefined) return { tag: selector.tag };
  throw new ConnectError("invalid_argument", "process must name a pid or a tag");
}

/** The Connect error for a process stream the worker refused before the process ran. */
function startError(code: string, message: string): ConnectError {
  switch (code) {
    case "bad_request":
      return new ConnectError("invalid_argument", message);
    case "not_found":
      return new ConnectError("not_found", message);
    case "conflict":
      return new ConnectError("already_exists", message);
    case "rate_limited":
      return new ConnectError("resource_exhausted", message);
    default:
      return new ConnectError("unavailable", message);
  }
}
