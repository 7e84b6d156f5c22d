import { spawn, type ChildProcess } from "node:child_process";
import { stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import {
  AGENT_ERROR_CODES,
  AGENT_NOTIFICATIONS,
  type AgentOutputStream,
  type AgentProcessInfo,
  type AgentPtySize,
  type AgentSignal,
  type ExecExitInfo,
} from "@aetherium/types";
import type { AgentLogger } from "./logger.js";
import { OutputRing, type OutputChunk } from "./output-ring.js";
import {
  EXEC_MARKER_ENV,
  killMarked,
  mayHaveMarked,
  readProcStat,
  signalGroup,
  signalSession,
} from "./proc.js";
import { findPtySlave, ptySessionLeader, ptySetupDone, setPtySize } from "./pty.js";
import { AgentRpcError, errnoOf } from "./rpc-error.js";

/** Where a process's output and exit go: one client connection. */
export interface OutputSink {
  /** Unique per connection. */
  readonly id: number;
  /** Sends a notification; never throws (a closed connection just drops it). */
  notify(method: string, params: object): void;
  /** Sends a chunk as a binary output frame; never throws. */
  output(processId: string, stream: AgentOutputStream, seq: number, data: Buffer): void;
}

/** Everything needed to start one process; built by the process manager. */
export interface SpawnSpec {
  processId: string;
  /** The argv the client asked for (reported back by `exec.list`). */
  argv: string[];
  /** The argv actually executed (the `script` wrapper for a PTY). */
  spawnArgv: string[];
  /** Includes `EXEC_MARKER_ENV` = `execMarker`, inherited by everything the command starts. */
  env: Record<string, string>;
  /** The value that tags this exec's processes; unique per agent instance and process. */
  execMarker: string;
  cwd: string;
  uid: number | undefined;
  gid: number | undefined;
  pty: AgentPtySize | undefined;
  stdin: Buffer | undefined;
  openStdin: boolean;
  timeoutMs: number | undefined;
  killGraceMs: number;
  replayBytes: number;
}

interface Attachment {
  sink: OutputSink;
  window: number;
  /** Binary output frames instead of base64 `exec.output` notifications. */
  binary: boolean;
  /** Bytes sent to this sink and not yet acknowledged. */
  inflight: number;
}

// After the main process exits, its pipes may still be held open by a background grandchild
// (`sh -c 'sleep 100 &'`). Output is finished once the pipes close, or once they have been quiet
// this long, or at the latest this long after the exit (while the client keeps up).
const EXIT_QUIET_MS = 200;
const EXIT_DRAIN_MAX_MS = 2000;

/** The shell that reports a command it could not start, as `sh` itself would. */
const SH = "/bin/sh";

/** What a shell prints and exits with when a command cannot be run: [message, exit code]. */
const SHELL_EXIT_FOR_ERRNO: Partial<Record<string, [string, string]>> = {
  ENOENT: ["command not found", "127"],
  EACCES: ["permission denied", "126"],
};

/**
 * One process started by `exec.start`: its pipes, its replay buffer, the connections its output
 * is streamed to, and flow control. The process belongs to the agent, not to a connection: it
 * keeps running when every client has gone.
 *
 * Flow control: each attachment may have at most `window` bytes sent and not acknowledged
 * (`exec.ack`). When any attachment's window is full, the pipes are paused: Node stops reading,
 * the pipe (64 KiB in the kernel) fills, and the process blocks in write(2). So agent memory per
 * process is bounded by the windows plus the replay buffer, however much the process prints and
 * however slow the client is. With no attachment at all, output only feeds the replay buffer and
 * the process is never blocked: a background server must not stall because nobody watches it.
 */
export class ManagedProcess {
  readonly processId: string;
  readonly pid: number;
  readonly startedAt: Date;
  /** How it ended, once it has exited and all output has been sent. */
  exit: ExecExitInfo | null = null;

  private readonly spec: SpawnSpec;
  private readonly child: ChildProcess;
  private readonly logger: AgentLogger;
  private readonly ring: OutputRing;
  private readonly attachments = new Map<number, Attachment>();
  private readonly waiters: (() => void)[] = [];
  private readonly onFinished: (p: ManagedProcess) => void;
  private nextSeq = 0;
  private paused = false;
  private stdinOpen = true;
  private timedOut = false;
  private rawExit: { code: number | null; signal: string | null; at: number } | undefined;
  private lastDataAt = 0;
  private timers: NodeJS.Timeout[] = [];
  private ptySlave: string | undefined;
  /** The terminal's initial size has been set; a resize from now on sticks. */
  private ptyReady = false;
  private sessionLeader: number | undefined;
  /** After the main process exited: every other process of the exec is gone too. */
  private treeGone = false;
  private pipesClosed = false;

  private constructor(
    spec: SpawnSpec,
    child: ChildProcess,
    logger: AgentLogger,
    onFinished: (p: ManagedProcess) => void,
  ) {
    this.spec = spec;
    this.processId = spec.processId;
    this.child = child;
    this.pid = child.pid ?? -1;
    this.startedAt = new Date();
    this.logger = logger;
    this.ring = new OutputRing(spec.replayBytes);
    this.onFinished = onFinished;
  }

  /**
   * Spawns the process and resolves once it runs; rejects with `spawnFailed` when it cannot be
   * started. `sink`, if given, is attached before the first byte of output.
   */
  static async start(
    spec: SpawnSpec,
    logger: AgentLogger,
    sink: { sink: OutputSink; window: number; binary: boolean } | undefined,
    onFinished: (p: ManagedProcess) => void,
  ): Promise<ManagedProcess> {
    const [file, ...args] = spec.spawnArgv;
    if (file === undefined) throw new Error("empty argv");
    // detached: the process leads a new session and process group, so a timeout or a signal
    // reaches everything it started (kill(-pgid)), and nothing it does reaches the agent.
    let child: ChildProcess | undefined;
    let failure: Error | undefined;
    try {
      child = spawn(file, args, {
        cwd: spec.cwd,
        env: spec.env,
        uid: spec.uid,
        gid: spec.gid,
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
        windowsHide: true,
      });
    } catch (err) {
      // Some refusals are thrown rather than emitted (E2BIG: argv and env over the kernel's
      // limit; a NUL in an argument): they are the caller's input, not an agent failure.
      failure = err instanceof Error ? err : new Error(String(err));
    }
    if (child !== undefined) {
      const started = child;
      failure = await new Promise<Error | undefined>((resolve) => {
        started.once("spawn", () => resolve(undefined));
        started.once("error", (err) => resolve(err));
      });
    }
    if (failure !== undefined || child === undefined) {
      failure ??= new Error("spawn failed");
      const errno = errnoOf(failure);
      // A missing (or non-directory) working directory fails the spawn as ENOENT (ENOTDIR) of
      // the command; say what is really wrong.
      if (errno === "ENOENT" || errno === "ENOTDIR") {
        const cwdStat = await stat(spec.cwd).catch(() => undefined);
        if (cwdStat?.isDirectory() !== true) {
          throw new AgentRpcError(
            AGENT_ERROR_CODES.spawnFailed,
            `working directory ${spec.cwd} does not exist or is not a directory`,
            {
              processId: spec.processId,
              errno: cwdStat === undefined ? "ENOENT" : "ENOTDIR",
              path: spec.cwd,
            },
          );
        }
      }
      const shellExit = errno === undefined ? undefined : SHELL_EXIT_FOR_ERRNO[errno];
      if (shellExit !== undefined && spec.pty === undefined && spec.spawnArgv[0] !== SH) {
        // A command that is missing or not executable ends as it would under a shell (127, 126,
        // its name on stderr), so callers branch on the exit code alone, whichever way they ran it.
        return ManagedProcess.start(
          {
            ...spec,
            spawnArgv: [
              SH,
              "-c",
              'printf "%s: %s\\n" "$1" "$2" >&2; exit "$3"',
              SH,
              file,
              ...shellExit,
            ],
          },
          logger,
          sink,
          onFinished,
        );
      }
      const what =
        errno === "ENOENT"
          ? `command not found: ${file}`
          : errno === "EACCES"
            ? `permission denied: ${file}`
            : errno === "E2BIG"
              ? "the command, its arguments and environment exceed the kernel's size limit (E2BIG)"
              : errno === "EPERM"
                ? "not permitted to switch user (the agent is not root)"
                : `cannot start ${file}: ${failure.message}`;
      throw new AgentRpcError(AGENT_ERROR_CODES.spawnFailed, what, {
        processId: spec.processId,
        ...(errno === undefined ? {} : { errno }),
      });
    }
    const proc = new ManagedProcess(spec, child, logger, onFinished);
    if (sink !== undefined) {
      proc.attachments.set(sink.sink.id, { ...sink, inflight: 0 });
    }
    proc.wire();
    return proc;
  }

  private wire(): void {
    const { child, spec } = this;
    child.stdout?.on("data", (d: Buffer) => this.onData("stdout", d));
    child.stderr?.on("data", (d: Buffer) => this.onData("stderr", d));
    child.on("error", (err) => {
      this.logger.warn("process error", { processId: this.processId, error: err.message });
    });
    child.on("exit", (code, signal) => this.onExit(code, signal));
    child.on("close", () => {
      this.pipesClosed = true;
      this.finish();
    });
    // EPIPE when the process exits without reading its input: not an agent failure.
    child.stdin?.on("error", () => {
      this.stdinOpen = false;
    });
    child.stdin?.on("close", () => {
      this.stdinOpen = false;
    });
    if (spec.stdin !== undefined && spec.stdin.length > 0) child.stdin?.write(spec.stdin);
    if (!spec.openStdin) this.closeStdin();
    if (spec.timeoutMs !== undefined) {
      this.timers.push(setTimeout(() => this.onTimeout(), spec.timeoutMs));
    }
  }

  private onData(stream: AgentOutputStream, data: Buffer): void {
    this.lastDataAt = Date.now();
    const chunk: OutputChunk = { seq: this.nextSeq++, stream, data };
    this.ring.push(chunk);
    let encoded: string | undefined;
    for (const a of this.attachments.values()) {
      if (!a.binary) encoded ??= data.toString("base64");
      this.send(a, chunk, encoded);
    }
    this.updateFlow();
  }

  private send(a: Attachment, chunk: OutputChunk, encoded?: string): void {
    a.inflight += chunk.data.length;
    if (a.binary) {
      a.sink.output(this.processId, chunk.stream, chunk.seq, chunk.data);
      return;
    }
    a.sink.notify(AGENT_NOTIFICATIONS.execOutput, {
      processId: this.processId,
      stream: chunk.stream,
      data: encoded ?? chunk.data.toString("base64"),
      seq: chunk.seq,
    });
  }

  private updateFlow(): void {
    let blocked = false;
    for (const a of this.attachments.values()) {
      if (a.inflight >= a.window) blocked = true;
    }
    if (blocked === this.paused) return;
    this.paused = blocked;
    for (const s of [this.child.stdout, this.child.stderr] as (Readable | null)[]) {
      if (s === null) continue;
      if (blocked) s.pause();
      else s.resume();
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.rawExit = { code, signal, at: Date.now() };
    this.stdinOpen = false;
    // The exec ends with its whole tree: whatever the command left behind (`server &`, a daemon
    // that called setsid(), a fork bomb) is killed, found by the marker in its environment, and
    // the exit is reported only once none is left. Most commands leave nothing: a look at the
    // few processes a leftover could hang from settles that without sweeping all of /proc.
    const marker = this.spec.execMarker;
    void Promise.resolve()
      .then(() =>
        mayHaveMarked(EXEC_MARKER_ENV, marker) ? killMarked(EXEC_MARKER_ENV, marker) : 0,
      )
      .then((kills) => {
        if (kills > 0) {
          this.logger.info("killed processes left behind by an exec", {
            processId: this.processId,
            kills,
          });
        }
      })
      .catch((err: unknown) => {
        this.logger.warn("could not kill an exec's leftover processes", {
          processId: this.processId,
          error: String(err),
        });
      })
      .finally(() => {
        this.treeGone = true;
        if (this.pipesClosed) this.finish();
      });
    const exitedAt = Date.now();
    const watchdog = setInterval(() => {
      if (this.paused) return;
      const now = Date.now();
      if (now - this.lastDataAt >= EXIT_QUIET_MS || now - exitedAt >= EXIT_DRAIN_MAX_MS) {
        this.child.stdout?.destroy();
        this.child.stderr?.destroy();
        this.finish();
      }
    }, 50);
    this.timers.push(watchdog);
  }

  private finish(): void {
    if (this.exit !== null || (this.rawExit !== undefined && !this.treeGone)) return;
    const raw = this.rawExit ?? { code: null, signal: null, at: Date.now() };
    this.exit = {
      exitCode: raw.code,
      signal: raw.signal,
      durationMs: raw.at - this.startedAt.getTime(),
      timedOut: this.timedOut,
    };
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    for (const a of this.attachments.values()) this.sendExit(a.sink);
    this.attachments.clear();
    for (const w of this.waiters.splice(0)) w();
    this.logger.debug("process exited", {
      processId: this.processId,
      exitCode: this.exit.exitCode,
      signal: this.exit.signal,
      timedOut: this.exit.timedOut,
    });
    this.onFinished(this);
  }

  private sendExit(sink: OutputSink): void {
    if (this.exit === null) return;
    sink.notify(AGENT_NOTIFICATIONS.execExit, { processId: this.processId, ...this.exit });
  }

  private onTimeout(): void {
    if (this.exit !== null) return;
    this.timedOut = true;
    this.logger.info("process timed out", { processId: this.processId });
    this.killTree("SIGTERM");
    this.timers.push(setTimeout(() => this.killTree("SIGKILL"), this.spec.killGraceMs));
  }

  /** The command's own session (with a PTY, the one `script` created for it). */
  private session(): number | undefined {
    if (this.spec.pty === undefined) return this.pid;
    this.sessionLeader ??= ptySessionLeader(this.pid);
    return this.sessionLeader;
  }

  /**
   * Signals every process of the command's session (timeouts, agent shutdown). With a PTY the
   * `script` wrapper is spared until SIGKILL: it reports the command's status once it exits.
   */
  killTree(signal: NodeJS.Signals): void {
    if (this.exit !== null) return;
    const sid = this.session();
    if (sid !== undefined) signalSession(sid, signal);
    if (this.spec.pty !== undefined && (sid === undefined || signal === "SIGKILL")) {
      signalGroup(this.pid, signal);
    }
  }

  /**
   * `exec.signal`: to the process group (like `kill -SIG -pgid`); with a PTY to the terminal's
   * foreground process group (what Ctrl-C reaches), so a shell's running job gets SIGINT.
   */
  signal(signal: AgentSignal): void {
    if (this.exit !== null || this.rawExit !== undefined) {
      throw new AgentRpcError(AGENT_ERROR_CODES.processExited, "process has exited", {
        processId: this.processId,
      });
    }
    let target = this.pid;
    if (this.spec.pty !== undefined) {
      const leader = this.session();
      const fg = leader === undefined ? undefined : readProcStat(leader)?.tpgid;
      target = fg !== undefined && fg > 0 ? fg : (leader ?? this.pid);
    }
    if (!signalGroup(target, signal)) {
      try {
        process.kill(target, signal);
      } catch {
        // Gone between the check and the kill; its exit follows.
      }
    }
  }

  /** `exec.resize`: sets the terminal size; the kernel sends SIGWINCH. */
  async resize(size: AgentPtySize): Promise<void> {
    if (this.spec.pty === undefined) {
      throw new AgentRpcError(AGENT_ERROR_CODES.notATerminal, "process has no terminal", {
        processId: this.processId,
      });
    }
    if (this.exit !== null) {
      throw new AgentRpcError(AGENT_ERROR_CODES.processExited, "process has exited", {
        processId: this.processId,
      });
    }
    // `script` opens the pty right after it starts, and the shell it forks sets the initial size
    // before it execs the command. A resize asked for before that would be undone by the initial
    // `stty`, so wait (briefly: a few ms after start) until the setup is over.
    // The bound is generous for a machine under heavy load; normally this takes a few ms.
    const deadline = Date.now() + 5000;
    while (!this.ptyReady && this.exit === null && Date.now() < deadline) {
      this.ptySlave ??= findPtySlave(this.pid);
      this.ptyReady = this.ptySlave !== undefined && ptySetupDone(this.pid);
      if (!this.ptyReady) await new Promise((r) => setTimeout(r, 10));
    }
    if (this.ptySlave === undefined) {
      throw new AgentRpcError(AGENT_ERROR_CODES.internalError, "terminal of process not found", {
        processId: this.processId,
      });
    }
    await setPtySize(this.ptySlave, size);
  }

  /** `exec.stdin`: resolves once the pipe has taken the bytes (input backpressure). */
  writeStdin(data: Buffer): Promise<void> {
    const stdin = this.child.stdin;
    if (!this.stdinOpen || stdin === null || !stdin.writable) {
      return Promise.reject(
        new AgentRpcError(AGENT_ERROR_CODES.processExited, "standard input is closed", {
          processId: this.processId,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      stdin.write(data, (err) => {
        if (err === null || err === undefined) resolve();
        else
          reject(
            new AgentRpcError(AGENT_ERROR_CODES.processExited, "standard input is closed", {
              processId: this.processId,
            }),
          );
      });
    });
  }

  /** `exec.closeStdin`: end of file for the process; idempotent. */
  closeStdin(): void {
    this.stdinOpen = false;
    this.child.stdin?.end();
  }

  /**
   * Attaches a connection: replays buffered chunks from `fromSeq` (all buffered ones when
   * absent), then streams live output, then the exit.
   */
  attach(
    sink: OutputSink,
    fromSeq: number | undefined,
    window: number,
    binary = false,
  ): { replayFromSeq: number; truncated: boolean } {
    const first = this.ring.firstSeq;
    const wanted = fromSeq ?? 0;
    const replayFromSeq = Math.max(wanted, first);
    const a: Attachment = { sink, window, binary, inflight: 0 };
    if (this.exit === null) this.attachments.set(sink.id, a);
    for (const chunk of this.ring.since(replayFromSeq)) this.send(a, chunk);
    if (this.exit !== null) this.sendExit(sink);
    this.updateFlow();
    return { replayFromSeq, truncated: wanted < first };
  }

  /** Stops streaming to a connection (also when it closes). */
  detach(sinkId: number): void {
    if (this.attachments.delete(sinkId)) this.updateFlow();
  }

  /** `exec.ack`: the connection consumed `bytes`. */
  ack(sinkId: number, bytes: number): void {
    const a = this.attachments.get(sinkId);
    if (a === undefined) return;
    a.inflight = Math.max(0, a.inflight - bytes);
    this.updateFlow();
  }

  /** Resolves when the process has exited, or after `timeoutMs`. */
  waitExit(timeoutMs: number): Promise<void> {
    if (this.exit !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** What `exec.list` reports. */
  info(): AgentProcessInfo {
    return {
      processId: this.processId,
      pid: this.pid,
      argv: this.spec.argv,
      pty: this.spec.pty !== undefined,
      startedAt: this.startedAt.toISOString(),
      running: this.exit === null,
      exit: this.exit,
      attachedConnections: this.attachments.size,
      nextSeq: this.nextSeq,
    };
  }
}
