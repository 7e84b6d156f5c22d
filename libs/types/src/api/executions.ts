import { z } from "zod";
import { executionSchema } from "../domain/execution.js";
import { executionIdSchema, taskIdSchema } from "../domain/ids.js";
import { absolutePathSchema, envVarsSchema } from "../domain/primitives.js";

/** Longest `timeoutMs` one exec may ask for: 24 hours. There is no hidden shorter cap. */
export const MAX_EXEC_TIMEOUT_MS = 86_400_000;

/** `timeoutMs` of an exec: 1 ms to 24 h; omitted means the server's default for execs. */
export const execTimeoutMsSchema = z
  .number({ error: "timeoutMs must be a number" })
  .int("timeoutMs must be an integer")
  .min(1, `timeoutMs must be between 1 and ${MAX_EXEC_TIMEOUT_MS}`)
  .max(MAX_EXEC_TIMEOUT_MS, `timeoutMs must be between 1 and ${MAX_EXEC_TIMEOUT_MS}`);

/** A Unix user name or numeric uid to run as inside the sandbox. */
export const execUserSchema = z
  .string()
  .regex(/^(?:[a-z_][a-z0-9_-]{0,31}\$?|[0-9]{1,10})$/, "must be a user name or a numeric uid");

/**
 * What to run: `command` alone runs through `/bin/sh -c command`; with `args` (even `[]`) `command`
 * is executed directly with those arguments, no shell. Shared by `POST /vms/{id}/execute`, the exec
 * WebSocket's `start` message and the `vm:execute` job.
 */
export const commandSpecSchema = z.object({
  command: z.string().min(1, "command is required").max(131_072, "command is at most 128 KiB"),
  args: z.array(z.string()).max(4096, "at most 4096 args").optional(),
  env: envVarsSchema.optional(),
  cwd: absolutePathSchema.optional(),
  user: execUserSchema.optional(),
  timeoutMs: execTimeoutMsSchema.optional(),
});

/** What to run (see {@link commandSpecSchema}). */
export type CommandSpec = z.infer<typeof commandSpecSchema>;

/**
 * Body of `POST /api/v1/vms/{id}/execute`. `stdin` is UTF-8 text written to the command's standard
 * input, which is then closed; binary input goes through the exec WebSocket. A non-zero exit code is
 * a normal `200` answer, not an error.
 */
export const executeBodySchema = z.strictObject({
  ...commandSpecSchema.shape,
  stdin: z.string().max(10_485_760, "stdin is at most 10 MiB").optional(),
});

/** An execute request body. */
export type ExecuteBody = z.infer<typeof executeBodySchema>;

/** `?async=true` on execute: answer `202` at once instead of waiting for the command. */
export const executeQuerySchema = z.object({
  async: z.stringbool({ error: "async must be true or false" }).default(false),
});

/** A parsed execute query. */
export type ExecuteQuery = z.infer<typeof executeQuerySchema>;

/** `200` answer of execute: the finished execution. */
export const executeResponseSchema = z.object({ execution: executionSchema });

/** `200` answer of execute. */
export type ExecuteResponse = z.infer<typeof executeResponseSchema>;

/** `202` answer of `execute?async=true`: poll `GET /executions/{executionId}` or follow the task. */
export const executeAcceptedResponseSchema = z.object({
  executionId: executionIdSchema,
  taskId: taskIdSchema,
});

/** `202` answer of asynchronous execute. */
export type ExecuteAcceptedResponse = z.infer<typeof executeAcceptedResponseSchema>;

/** `{execution}`: answer of `GET /api/v1/executions/{id}`. */
export const executionResponseSchema = executeResponseSchema;

/** `{execution}` response. */
export type ExecutionResponse = ExecuteResponse;
