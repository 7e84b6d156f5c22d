import { z } from "zod";
import { executionIdSchema } from "../domain/ids.js";
import { checkExecArgvSize, commandSpecSchema } from "./executions.js";

/*
 * Bytes travel base64-encoded in a `data` field: process output is arbitrary bytes (binary files,
 * a multi-byte character split across two reads), which JSON strings cannot carry faithfully.
 */

/** Base64 (standard alphabet, padded) of raw bytes; `""` is an empty chunk. */
export const base64DataSchema = z.base64({ error: "data must be base64" });

/** Terminal size in character cells. */
export const ptySizeSchema = z.object({
  cols: z.number().int().min(1, "cols must be at least 1").max(1000, "cols must be at most 1000"),
  rows: z.number().int().min(1, "rows must be at least 1").max(1000, "rows must be at most 1000"),
});

/** A terminal size. */
export type PtySize = z.infer<typeof ptySizeSchema>;

/** Signals a client may send to the running command. */
export const execSignalSchema = z.enum(
  ["SIGINT", "SIGTERM", "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"],
  {
    error: "signal must be one of SIGINT, SIGTERM, SIGKILL, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2",
  },
);

/** A signal name. */
export type ExecSignal = z.infer<typeof execSignalSchema>;

/**
 * First client message: what to run. With `pty` the command gets a terminal of that size, stdout and
 * stderr merge into `stdout` messages, and `resize` works.
 */
export const execStartMessageSchema = z
  .object({
    type: z.literal("start"),
    ...commandSpecSchema.shape,
    pty: ptySizeSchema.optional(),
  })
  .superRefine(checkExecArgvSize);

/** Bytes for the command's standard input (base64 `data`). */
export const execStdinMessageSchema = z.object({
  type: z.literal("stdin"),
  data: base64DataSchema,
});

/** Sends a signal to the command. */
export const execSignalMessageSchema = z.object({
  type: z.literal("signal"),
  signal: execSignalSchema,
});

/** Resizes the terminal (only with `pty`). */
export const execResizeMessageSchema = z.object({
  type: z.literal("resize"),
  ...ptySizeSchema.shape,
});

/** Closes the command's standard input (end of file). */
export const execCloseStdinMessageSchema = z.object({ type: z.literal("closeStdin") });

/**
 * Messages a client sends on `GET /api/v1/vms/{id}/exec`: `start` once, then any of `stdin`,
 * `signal`, `resize`, `closeStdin`.
 */
export const execClientMessageSchema = z.discriminatedUnion(
  "type",
  [
    execStartMessageSchema,
    execStdinMessageSchema,
    execSignalMessageSchema,
    execResizeMessageSchema,
    execCloseStdinMessageSchema,
  ],
  { error: "type must be one of start, stdin, signal, resize, closeStdin" },
);

/** A client → server exec message. */
export type ExecClientMessage = z.infer<typeof execClientMessageSchema>;

/** The command started; its execution record has this id. */
export const execStartedMessageSchema = z.object({
  type: z.literal("started"),
  executionId: executionIdSchema,
});

/** A chunk of standard output (base64 `data`). */
export const execStdoutMessageSchema = z.object({
  type: z.literal("stdout"),
  data: base64DataSchema,
});

/** A chunk of standard error (base64 `data`). */
export const execStderrMessageSchema = z.object({
  type: z.literal("stderr"),
  data: base64DataSchema,
});

/**
 * The command ended; the last message before the server closes. `signal` names the signal that
 * killed it, if any (then `exitCode` is `128 + n`); `timedOut` says the exec's `timeoutMs` did.
 */
export const execExitMessageSchema = z.object({
  type: z.literal("exit"),
  exitCode: z.number().int(),
  signal: z.string().nullable().optional(),
  timedOut: z.boolean().optional(),
  durationMs: z.number().int().nonnegative().optional(),
});

/** Something went wrong outside the command (bad message, sandbox gone); `code` is an API error code. */
export const execErrorMessageSchema = z.object({
  type: z.literal("error"),
  code: z.string(),
  message: z.string(),
});

/** Messages the server sends on the exec WebSocket: `started`, then `stdout`/`stderr` chunks, then `exit` (or `error`). */
export const execServerMessageSchema = z.discriminatedUnion(
  "type",
  [
    execStartedMessageSchema,
    execStdoutMessageSchema,
    execStderrMessageSchema,
    execExitMessageSchema,
    execErrorMessageSchema,
  ],
  { error: "type must be one of started, stdout, stderr, exit, error" },
);

/** A server → client exec message. */
export type ExecServerMessage = z.infer<typeof execServerMessageSchema>;
