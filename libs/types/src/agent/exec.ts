import { z } from "zod";
import {
  agentBase64Schema,
  agentEnvSchema,
  agentPathSchema,
  agentPtySizeSchema,
  agentSignalSchema,
  agentUserSchema,
} from "./common.js";
import { MAX_WRITE_CHUNK_BYTES, OUTPUT_WINDOW_LIMITS } from "./protocol.js";

/** A process id chosen by the client or the agent: short, printable, no spaces. */
export const agentProcessIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, "processId must be 1-128 of A-Z a-z 0-9 . _ : -");

/** A process id. */
export type AgentProcessId = z.infer<typeof agentProcessIdSchema>;

/** Which output stream a chunk came from; PTY processes have only `stdout`. */
export const agentOutputStreamSchema = z.enum(["stdout", "stderr"]);

/** An output stream name. */
export type AgentOutputStream = z.infer<typeof agentOutputStreamSchema>;

const windowSchema = z.number().int().min(OUTPUT_WINDOW_LIMITS.min).max(OUTPUT_WINDOW_LIMITS.max);

/**
 * How output reaches this connection: `base64` inside `exec.output` notifications (the default,
 * plain JSON-RPC), or `binary` frames (`AGENT_OUTPUT_FRAME`) that carry the bytes as they
 * are, which costs no encoding on either side. Agents that predate the option ignore it and send
 * `exec.output`, so a client asking for `binary` must accept both.
 */
export const agentOutputEncodingSchema = z.enum(["base64", "binary"]);

/** How output reaches a connection. */
export type AgentOutputEncoding = z.infer<typeof agentOutputEncodingSchema>;

// A decoded-size bound checked on the base64 text: 4 characters carry 3 bytes.
const chunkSchema = agentBase64Schema.refine(
  (s) => (s.length / 4) * 3 <= MAX_WRITE_CHUNK_BYTES + 2,
  `data must decode to at most ${MAX_WRITE_CHUNK_BYTES} bytes; send larger data in chunks`,
);

/**
 * Params of `exec.start`. Give either `command` (+ `args`, run directly, no shell) or `shell` (run
 * by `/bin/sh -c`). There is no time limit unless `timeoutMs` is given.
 */
export const execStartParamsSchema = z
  .object({
    /** Id for the new process; the agent picks one when absent. Clients that pick their own can
     * route output that arrives before the response. */
    processId: agentProcessIdSchema.optional(),
    /** Program to run (looked up in `PATH` of the resulting environment). */
    command: z.string().min(1).optional(),
    /** Arguments for `command`. */
    args: z.array(z.string()).optional(),
    /** A shell command line, run as `/bin/sh -c <shell>`. */
    shell: z.string().min(1).optional(),
    /** Extra environment, over the agent's environment and the secrets. */
    env: agentEnvSchema.optional(),
    /** Working directory (absolute); the agent's own when absent. */
    cwd: agentPathSchema.optional(),
    /** Run as this user (name or uid); the agent's user when absent. Sets HOME, USER, LOGNAME. */
    user: agentUserSchema.optional(),
    /** Bytes written to standard input first. */
    stdin: chunkSchema.optional(),
    /** Keep standard input open for `exec.stdin` until `exec.closeStdin`. Default `false`, so a
     * command that reads stdin sees end of file after `stdin`; default `true` with `pty`. */
    openStdin: z.boolean().optional(),
    /** Kill the process after this many milliseconds and report `timedOut`. No limit when absent. */
    timeoutMs: z.number().int().positive().optional(),
    /** After a timeout's SIGTERM, wait this long before SIGKILL. Default 2000. */
    killGraceMs: z.number().int().min(0).max(600_000).optional(),
    /** Run in a pseudo-terminal of this size: stdout and stderr merge, `exec.resize` works. */
    pty: agentPtySizeSchema.optional(),
    /** Stream output to this connection (default `true`); `false` starts it in the background
     * with output only in the replay buffer, for a later `exec.attach`. */
    attach: z.boolean().optional(),
    /** Flow-control window in bytes for this connection (`DEFAULT_OUTPUT_WINDOW_BYTES`). */
    window: windowSchema.optional(),
    /** How output reaches this connection (default `base64`). */
    outputEncoding: agentOutputEncodingSchema.optional(),
  })
  .refine((p) => (p.command === undefined) !== (p.shell === undefined), {
    message: "give exactly one of command or shell",
  })
  .refine((p) => p.args === undefined || p.command !== undefined, {
    message: "args needs command",
  });

/** Params of `exec.start`. */
export type ExecStartParams = z.infer<typeof execStartParamsSchema>;

/** Result of `exec.start`. */
export const execStartResultSchema = z.object({
  /** The process's id in this protocol. */
  processId: agentProcessIdSchema,
  /** Its operating-system pid inside the sandbox (with `pty`: the pid of the terminal wrapper). */
  pid: z.number().int(),
  /** When it started (ISO 8601). */
  startedAt: z.string(),
});

/** Result of `exec.start`. */
export type ExecStartResult = z.infer<typeof execStartResultSchema>;

/**
 * Notification `exec.output`: one chunk of output. `seq` counts chunks of one process from 0,
 * across both streams, so a client can order them and resume with `exec.attach {fromSeq}`.
 */
export const execOutputNotificationSchema = z.object({
  processId: agentProcessIdSchema,
  stream: agentOutputStreamSchema,
  /** The bytes, base64. */
  data: agentBase64Schema,
  /** Chunk sequence number within the process. */
  seq: z.number().int().min(0),
});

/** Notification `exec.output`. */
export type ExecOutputNotification = z.infer<typeof execOutputNotificationSchema>;

/** How a process ended. */
export const execExitInfoSchema = z.object({
  /** Exit status, or `null` when a signal ended it. With `pty`, a signal shows as 128 + n. */
  exitCode: z.number().int().nullable(),
  /** The signal that ended it (`SIGKILL`, …), or `null`. */
  signal: z.string().nullable(),
  /** Milliseconds from start to exit. */
  durationMs: z.number(),
  /** Whether `timeoutMs` ended it. */
  timedOut: z.boolean(),
});

/** How a process ended. */
export type ExecExitInfo = z.infer<typeof execExitInfoSchema>;

/**
 * Notification `exec.exit`: the process has exited; it follows every `exec.output` of the process
 * on the same connection.
 */
export const execExitNotificationSchema = z.object({
  processId: agentProcessIdSchema,
  ...execExitInfoSchema.shape,
});

/** Notification `exec.exit`. */
export type ExecExitNotification = z.infer<typeof execExitNotificationSchema>;

/** Client notification `exec.ack`: `bytes` (decoded) of the process's output were consumed. */
export const execAckNotificationSchema = z.object({
  processId: agentProcessIdSchema,
  bytes: z.number().int().min(0),
});

/** Client notification `exec.ack`. */
export type ExecAckNotification = z.infer<typeof execAckNotificationSchema>;

/** Params of `exec.stdin`: bytes for standard input. Answered once the pipe took them. */
export const execStdinParamsSchema = z.object({
  processId: agentProcessIdSchema,
  data: chunkSchema,
});

/** Params of `exec.stdin`. */
export type ExecStdinParams = z.infer<typeof execStdinParamsSchema>;

/** Params of `exec.closeStdin`, `exec.detach` and other calls that only name a process. */
export const execProcessParamsSchema = z.object({ processId: agentProcessIdSchema });

/** Params naming one process. */
export type ExecProcessParams = z.infer<typeof execProcessParamsSchema>;

/** Params of `exec.signal`. */
export const execSignalParamsSchema = z.object({
  processId: agentProcessIdSchema,
  signal: agentSignalSchema,
});

/** Params of `exec.signal`. */
export type ExecSignalParams = z.infer<typeof execSignalParamsSchema>;

/** Params of `exec.resize`. */
export const execResizeParamsSchema = z.object({
  processId: agentProcessIdSchema,
  ...agentPtySizeSchema.shape,
});

/** Params of `exec.resize`. */
export type ExecResizeParams = z.infer<typeof execResizeParamsSchema>;

/** What the agent knows about a process (running, or exited and still remembered). */
export const agentProcessInfoSchema = z.object({
  processId: agentProcessIdSchema,
  pid: z.number().int(),
  /** The argv the client asked for (`["/bin/sh", "-c", shell]` for `shell`). */
  argv: z.array(z.string()),
  /** Whether it runs in a pseudo-terminal. */
  pty: z.boolean(),
  /** When it started (ISO 8601). */
  startedAt: z.string(),
  /** Whether it is still running. */
  running: z.boolean(),
  /** How it ended; `null` while running. */
  exit: execExitInfoSchema.nullable(),
  /** Connections its output is streamed to. */
  attachedConnections: z.number().int(),
  /** Sequence number the next output chunk will get. */
  nextSeq: z.number().int(),
});

/** What the agent knows about a process. */
export type AgentProcessInfo = z.infer<typeof agentProcessInfoSchema>;

/** Result of `exec.list`: running processes and recently exited ones. */
export const execListResultSchema = z.object({ processes: z.array(agentProcessInfoSchema) });

/** Result of `exec.list`. */
export type ExecListResult = z.infer<typeof execListResultSchema>;

/** Params of `exec.attach`. */
export const execAttachParamsSchema = z.object({
  processId: agentProcessIdSchema,
  /** Replay buffered chunks from this `seq` on; everything still buffered when absent. */
  fromSeq: z.number().int().min(0).optional(),
  /** Flow-control window for this connection. */
  window: windowSchema.optional(),
  /** How output reaches this connection (default `base64`). */
  outputEncoding: agentOutputEncodingSchema.optional(),
});

/** Params of `exec.attach`. */
export type ExecAttachParams = z.infer<typeof execAttachParamsSchema>;

/**
 * Result of `exec.attach`. After it the agent sends buffered chunks `replayFromSeq … nextSeq - 1`,
 * then live output, then `exec.exit` (at once if the process has already exited).
 */
export const execAttachResultSchema = z.object({
  process: agentProcessInfoSchema,
  /** First chunk that will be replayed. */
  replayFromSeq: z.number().int(),
  /** Whether chunks the client asked for (from `fromSeq`, or from 0) had already been dropped. */
  truncated: z.boolean(),
});

/** Result of `exec.attach`. */
export type ExecAttachResult = z.infer<typeof execAttachResultSchema>;

/** Params of `exec.wait`. */
export const execWaitParamsSchema = z.object({
  processId: agentProcessIdSchema,
  /** Give up after this long and answer with `exit: null`. Default and maximum 300000. */
  timeoutMs: z.number().int().min(0).max(300_000).optional(),
});

/** Params of `exec.wait`. */
export type ExecWaitParams = z.infer<typeof execWaitParamsSchema>;

/** Result of `exec.wait`: the process as it is now (`exit` is `null` if it is still running). */
export const execWaitResultSchema = z.object({ process: agentProcessInfoSchema });

/** Result of `exec.wait`. */
export type ExecWaitResult = z.infer<typeof execWaitResultSchema>;
