import { randomBytes } from "node:crypto";
import path from "node:path";
import {
  AGENT_ERROR_CODES,
  DEFAULT_OUTPUT_WINDOW_BYTES,
  REPLAY_BUFFER_BYTES,
  type AgentOutputEncoding,
  type AgentProcessInfo,
  type ExecAttachResult,
  type ExecStartParams,
  type ExecStartResult,
} from "@aetherium/types";
import type { AgentLogger } from "./logger.js";
import { ManagedProcess, type OutputSink } from "./managed-process.js";
import { EXEC_MARKER_ENV } from "./proc.js";
import { ptyArgv } from "./pty.js";
import { AgentRpcError } from "./rpc-error.js";
import { resolveUser } from "./users.js";

/** Settings of the {@link ProcessManager}. */
export interface ProcessManagerOptions {
  /** Environment every process starts from (the agent's own, minus its settings). */
  baseEnv: Record<string, string>;
  /** Working directory when a request gives none. */
  defaultCwd: string;
  logger: AgentLogger;
  /** Exited processes are remembered this long for `exec.list`/`attach`/`wait`. */
  retainExitedMs?: number;
  /** At most this many exited processes are remembered. */
  retainExitedMax?: number;
  /** Where user names are looked up (tests point it elsewhere). */
  passwdPath?: string;
}

const DEFAULT_KILL_GRACE_MS = 2000;

/**
 * All processes of the agent, and the in-memory secrets. Secrets are held in a Map in this object
 * only: never written to disk, never logged, never returned; they reach processes through their
 * environment.
 */
export class ProcessManager {
  private readonly procs = new Map<string, ManagedProcess>();
  private readonly reserved = new Set<string>();
  private readonly exitedOrder: string[] = [];
  private readonly secrets = new Map<string, string>();
  private readonly opts: Required<ProcessManagerOptions>;
  private counter = 0;
  /** Tells this agent's exec markers from those of an earlier agent in the same sandbox. */
  private readonly instance = randomBytes(6).toString("hex");

  constructor(options: ProcessManagerOptions) {
    this.opts = {
      retainExitedMs: 10 * 60_000,
      retainExitedMax: 64,
      passwdPath: "/etc/passwd",
      ...options,
    };
  }

  /** `exec.start`. */
  async start(params: ExecStartParams, sink: OutputSink): Promise<ExecStartResult> {
    const processId = params.processId ?? `p${++this.counter}`;
    if (this.procs.has(processId) || this.reserved.has(processId)) {
      throw new AgentRpcError(
        AGENT_ERROR_CODES.processIdInUse,
        `processId ${processId} is in use`,
        { processId },
      );
    }
    this.reserved.add(processId);
    try {
      const user =
        params.user === undefined
          ? undefined
          : await resolveUser(params.user, this.opts.passwdPath);
      const env: Record<string, string> = { ...this.opts.baseEnv };
      if (user !== undefined) {
        env.HOME = user.home ?? "/";
        if (user.name !== undefined) {
          env.USER = user.name;
          env.LOGNAME = user.name;
        }
      }
      for (const [k, v] of this.secrets) env[k] = v;
      Object.assign(env, params.env);
      if (params.pty !== undefined) env.TERM ??= "xterm-256color";

      // A missing working directory is told apart from a missing command only when the spawn
      // fails (ManagedProcess.start), not checked before every spawn.
      const cwd =
        params.cwd === undefined ? this.opts.defaultCwd : path.posix.normalize(params.cwd);

      const argv =
        params.command !== undefined
          ? [params.command, ...(params.args ?? [])]
          : ["/bin/sh", "-c", params.shell ?? ""];
      const pty = params.pty;
      // Switching to our own uid needs no privilege, and a non-root agent could not do it anyway.
      const switchUser = user !== undefined && user.uid !== process.getuid?.();
      // A terminal's `script` stays ours and only the command switches (see ptyArgv): the resize
      // must be able to find the terminal through `script`'s /proc entries.
      const ptyUser =
        pty !== undefined && switchUser
          ? { uid: user.uid, gid: user.gid, named: user.name !== undefined }
          : undefined;
      const spawnArgv = pty === undefined ? argv : ptyArgv(argv, pty, env.SHELL, ptyUser);
      const execMarker = `${this.instance}:${processId}`;
      if (pty !== undefined) env.SHELL = "/bin/sh";
      // Set last: a request's env must not be able to untag its processes.
      env[EXEC_MARKER_ENV] = execMarker;
      const spawnAs = switchUser && ptyUser === undefined;

      const proc = await ManagedProcess.start(
        {
          processId,
          argv,
          spawnArgv,
          env,
          execMarker,
          cwd,
          uid: spawnAs ? user.uid : undefined,
          gid: spawnAs ? user.gid : undefined,
          pty,
          stdin: params.stdin === undefined ? undefined : Buffer.from(params.stdin, "base64"),
          openStdin: params.openStdin ?? pty !== undefined,
          timeoutMs: params.timeoutMs,
          killGraceMs: params.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
          replayBytes: REPLAY_BUFFER_BYTES,
        },
        this.opts.logger,
        params.attach === false
          ? undefined
          : {
              sink,
              window: params.window ?? DEFAULT_OUTPUT_WINDOW_BYTES,
              binary: params.outputEncoding === "binary",
            },
        (p) => this.onFinished(p),
      );
      this.procs.set(processId, proc);
      this.opts.logger.debug("process started", { processId, pid: proc.pid });
      return { processId, pid: proc.pid, startedAt: proc.startedAt.toISOString() };
    } finally {
      this.reserved.delete(processId);
    }
  }

  private onFinished(p: ManagedProcess): void {
    this.exitedOrder.push(p.processId);
    while (this.exitedOrder.length > this.opts.retainExitedMax) {
      const old = this.exitedOrder.shift();
      if (old !== undefined) this.procs.delete(old);
    }
    setTimeout(() => {
      if (this.procs.get(p.processId) === p) this.procs.delete(p.processId);
      const i = this.exitedOrder.indexOf(p.processId);
      if (i >= 0) this.exitedOrder.splice(i, 1);
    }, this.opts.retainExitedMs).unref();
  }

  /** The process with this id, or a `processNotFound` error. */
  get(processId: string): ManagedProcess {
    const p = this.procs.get(processId);
    if (p === undefined) {
      throw new AgentRpcError(
        AGENT_ERROR_CODES.processNotFound,
        `no process with id ${processId}`,
        { processId },
      );
    }
    return p;
  }

  /** `exec.attach`. */
  attach(
    processId: string,
    sink: OutputSink,
    fromSeq: number | undefined,
    window: number | undefined,
    encoding: AgentOutputEncoding | undefined,
  ): ExecAttachResult {
    const p = this.get(processId);
    const r = p.attach(sink, fromSeq, window ?? DEFAULT_OUTPUT_WINDOW_BYTES, encoding === "binary");
    return { process: p.info(), ...r };
  }

  /** `exec.list`: running first, then exited, each in start order. */
  list(): AgentProcessInfo[] {
    const all = [...this.procs.values()].map((p) => p.info());
    return [...all.filter((p) => p.running), ...all.filter((p) => !p.running)];
  }

  /** The process an `exec.ack` is for, if it is still known (acks never fail). */
  find(processId: string): ManagedProcess | undefined {
    return this.procs.get(processId);
  }

  /** Processes still running. */
  runningCount(): number {
    let n = 0;
    for (const p of this.procs.values()) if (p.exit === null) n++;
    return n;
  }

  /** A connection has closed: its processes keep running, unwatched. */
  detachAll(sinkId: number): void {
    for (const p of this.procs.values()) p.detach(sinkId);
  }

  /** `secrets.set`: returns how many secrets are held. */
  setSecrets(secrets: Record<string, string>, replace: boolean): number {
    if (replace) this.secrets.clear();
    for (const [k, v] of Object.entries(secrets)) this.secrets.set(k, v);
    return this.secrets.size;
  }

  /** Agent shutdown: SIGTERM every running process tree, SIGKILL what is left after `graceMs`. */
  async shutdown(graceMs: number): Promise<void> {
    const running = [...this.procs.values()].filter((p) => p.exit === null);
    for (const p of running) p.killTree("SIGTERM");
    await Promise.all(running.map((p) => p.waitExit(graceMs)));
    for (const p of running) p.killTree("SIGKILL");
    await Promise.all(running.map((p) => p.waitExit(1000)));
  }
}
