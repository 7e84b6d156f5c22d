import { z } from "zod";
import {
  execCloseStdinMessageSchema,
  execExitMessageSchema,
  execErrorMessageSchema,
  execResizeMessageSchema,
  execSignalMessageSchema,
  execStderrMessageSchema,
  execStdinMessageSchema,
  execStdoutMessageSchema,
  ptySizeSchema,
} from "../api/exec-ws.js";
import { checkExecArgvSize, commandSpecSchema } from "../api/executions.js";

/*
 * The worker's held processes (`/internal/v1/vms/{id}/processes…`): commands the worker keeps
 * running in a sandbox whoever started them and whoever watches, so every gateway reaches the
 * processes one gateway started (E2B's background commands behind a load balancer). They are named
 * by their pid inside the sandbox or by a tag.
 */

/** Names a held process: its pid in the sandbox, or the tag it was started with. */
export const heldProcessSelectorSchema = z.union([
  z.strictObject({ pid: z.number().int().positive() }),
  z.strictObject({ tag: z.string().min(1).max(256) }),
]);

/** A pid or a tag. */
export type HeldProcessSelector = z.infer<typeof heldProcessSelectorSchema>;

/**
 * First message on the process stream that starts a command: the exec `start` message, plus a
 * tag (unique among the sandbox's running held processes) and whether stdin stays open.
 */
export const heldProcessStartMessageSchema = z
  .object({
    type: z.literal("start"),
    ...commandSpecSchema.shape,
    pty: ptySizeSchema.optional(),
    tag: z.string().min(1).max(256).optional(),
    /** Keep stdin open for input (E2B closes it unless asked; a PTY keeps it either way). */
    openStdin: z.boolean(),
  })
  .superRefine(checkExecArgvSize);

/** First message on the process stream that watches a running held process from now on. */
export const heldProcessAttachMessageSchema = z.object({
  type: z.literal("attach"),
  process: heldProcessSelectorSchema,
});

/** The one message a client sends on the process stream: `start` or `attach`. */
export const heldProcessOpenMessageSchema = z.discriminatedUnion("type", [
  heldProcessStartMessageSchema,
  heldProcessAttachMessageSchema,
]);

/** A `start` or `attach`. */
export type HeldProcessOpenMessage = z.infer<typeof heldProcessOpenMessageSchema>;

/** The process runs (started, or attached to): its pid in the sandbox. */
export const heldProcessStartedMessageSchema = z.object({
  type: z.literal("started"),
  pid: z.number().int().positive(),
});

/**
 * What the worker sends on the process stream: `started`, then output, then `exit` (or `error`).
 * Closing the stream leaves the process running.
 */
export const heldProcessServerMessageSchema = z.discriminatedUnion("type", [
  heldProcessStartedMessageSchema,
  execStdoutMessageSchema,
  execStderrMessageSchema,
  execExitMessageSchema,
  execErrorMessageSchema,
]);

/** A worker → gateway process stream message. */
export type HeldProcessServerMessage = z.infer<typeof heldProcessServerMessageSchema>;

/** Body of `POST …/processes/control`: one input, signal, resize or end of input for a process. */
export const heldProcessControlBodySchema = z.object({
  process: heldProcessSelectorSchema,
  action: z.discriminatedUnion("type", [
    execStdinMessageSchema,
    execSignalMessageSchema,
    execResizeMessageSchema,
    execCloseStdinMessageSchema,
  ]),
});

/** A control request. */
export type HeldProcessControlBody = z.infer<typeof heldProcessControlBodySchema>;

/** A running held process as `GET …/processes` lists it: what it was started with. */
export const heldProcessInfoSchema = z.object({
  pid: z.number().int().positive(),
  tag: z.string().optional(),
  command: z.string(),
  args: z.array(z.string()),
  env: z.record(z.string(), z.string()),
  cwd: z.string().optional(),
  pty: z.boolean(),
});

/** One listed process. */
export type HeldProcessInfo = z.infer<typeof heldProcessInfoSchema>;

/** Answer of `GET …/processes`. */
export const heldProcessListSchema = z.object({ processes: z.array(heldProcessInfoSchema) });
