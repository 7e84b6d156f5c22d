import { z } from "zod";

/*
 * Bytes travel base64-encoded: process output and file contents are arbitrary bytes, which JSON
 * strings cannot carry faithfully.
 */

/** Base64 (standard alphabet, padded) of raw bytes; `""` is zero bytes. */
export const agentBase64Schema = z.base64({ error: "must be base64" });

/**
 * An absolute path inside the sandbox. The agent normalises it (`/a/./b/../c` → `/a/c`) and uses
 * exactly that; relative paths are rejected rather than resolved against some working directory.
 */
export const agentPathSchema = z
  .string()
  .min(1, "path must not be empty")
  .max(4096, "path must be at most 4096 characters")
  .refine((p) => p.startsWith("/"), "path must be absolute (start with /)")
  .refine((p) => !p.includes("\0"), "path must not contain NUL");

/** A user in the sandbox: a name from its `/etc/passwd`, or a numeric uid. */
export const agentUserSchema = z.union([
  z.string().min(1).max(64),
  z.number().int().min(0).max(0x7fffffff),
]);

/** A user name or uid. */
export type AgentUser = z.infer<typeof agentUserSchema>;

/** Terminal size in character cells. */
export const agentPtySizeSchema = z.object({
  cols: z.number().int().min(1).max(1000),
  rows: z.number().int().min(1).max(1000),
});

/** A terminal size. */
export type AgentPtySize = z.infer<typeof agentPtySizeSchema>;

/** Signals a client may send to a process. */
export const agentSignalSchema = z.enum([
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGKILL",
  "SIGUSR1",
  "SIGUSR2",
  "SIGTERM",
  "SIGCONT",
  "SIGSTOP",
  "SIGWINCH",
]);

/** A signal name. */
export type AgentSignal = z.infer<typeof agentSignalSchema>;

/** An environment variable name (POSIX portable: letters, digits, underscore, no leading digit). */
export const agentEnvNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");

/** Environment variables: name → value. */
export const agentEnvSchema = z.record(agentEnvNameSchema, z.string());

/** An empty result or params object (`{}`). */
export const agentEmptySchema = z.object({});

/** `error.data` of agent errors: which path or errno was involved, and validation issues. */
export const agentErrorDataSchema = z.object({
  /** The errno name of the failing system call (`ENOENT`, `EACCES`, …). */
  errno: z.string().optional(),
  /** The normalised path involved, for `fs.*` errors. */
  path: z.string().optional(),
  /** The process involved, for `exec.*` errors. */
  processId: z.string().optional(),
  /** For `invalidParams`: each problem with its dotted path. */
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

/** `error.data` of an agent error. */
export type AgentErrorData = z.infer<typeof agentErrorDataSchema>;
