import { z } from "zod";
import { executionSchema } from "../domain/execution.js";
import { executionIdSchema, taskIdSchema } from "../domain/ids.js";
import { absolutePathSchema, envVarsSchema, noNulString } from "../domain/primitives.js";

/** Longest `timeoutMs` one exec may ask for: 24 hours. There is no hidden shorter cap. */
export const MAX_EXEC_TIMEOUT_MS = 86_400_000;

/** `timeoutMs` of an exec: 1 ms to 24 h; omitted means the server's default for execs. */
export const execTimeoutMsSchema = z
  .number({ error: "timeoutMs must be a number" })
  .int("timeoutMs must be an integer")
  .min(1, `timeoutMs must be between 1 and ${MAX_EXEC_TIMEOUT_MS}`)
  .max(MAX_EXEC_TIMEOUT_MS, `timeoutMs must be between 1 and ${MAX_EXEC_TIMEOUT_MS}`);

/**
 * Longest single argument (the command, one of `args`, one `NAME=value` of `env`) in UTF-8 bytes:
 * Linux's `MAX_ARG_STRLEN` (128 KiB) counts the terminating NUL, so one byte less.
 */
export const MAX_EXEC_ARG_BYTES = 131_071;

/**
 * Budget for a command's argv and env together, counted as the kernel does (bytes, NUL and a
 * pointer each). Linux allows a quarter of the stack limit (2 MiB by default) for argv and envp
 * together; half of that stays for the environment the sandbox itself adds.
 */
export const MAX_EXEC_ARGV_ENV_BYTES = 1_048_576;

function fitsOneArg(s: string): boolean {
  // Cheap first: one UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair 4 for two).
  return s.length * 3 <= MAX_EXEC_ARG_BYTES || utf8Length(s) <= MAX_EXEC_ARG_BYTES;
}

/** Length of `s` in UTF-8 (a lone surrogate counts as U+FFFD, 3 bytes); works without Buffer. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

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
  command: noNulString()
    .min(1, "command is required")
    .max(MAX_EXEC_ARG_BYTES, `command is at most ${MAX_EXEC_ARG_BYTES} bytes`)
    .refine(fitsOneArg, `command is at most ${MAX_EXEC_ARG_BYTES} bytes of UTF-8`),
  args: z
    .array(
      noNulString()
        .max(MAX_EXEC_ARG_BYTES, `an argument is at most ${MAX_EXEC_ARG_BYTES} bytes`)
        .refine(fitsOneArg, `an argument is at most ${MAX_EXEC_ARG_BYTES} bytes of UTF-8`),
    )
    .max(4096, "at most 4096 args")
    .optional(),
  env: envVarsSchema.optional(),
  cwd: absolutePathSchema.optional(),
  user: execUserSchema.optional(),
  timeoutMs: execTimeoutMsSchema.optional(),
});

/**
 * Refinement for schemas built from {@link commandSpecSchema}'s shape: each `NAME=value` of `env`
 * fits one argument, and command, args and env together fit {@link MAX_EXEC_ARGV_ENV_BYTES}, so a
 * request the kernel would refuse with `E2BIG` is a 400 instead.
 */
export function checkExecArgvSize(
  spec: Pick<CommandSpec, "command" | "args" | "env">,
  ctx: z.RefinementCtx,
): void {
  const env = Object.entries(spec.env ?? {});
  for (const [name, value] of env) {
    if (!fitsOneArg(`${name}=${value}`)) {
      ctx.addIssue({
        code: "custom",
        path: ["env", name],
        message: `"${name}=value" is at most ${MAX_EXEC_ARG_BYTES} bytes of UTF-8`,
      });
    }
  }
  // Each string travels as its bytes, a terminating NUL and a pointer; `sh -c` adds two.
  const strings = [spec.command, ...(spec.args ?? ["/bin/sh", "-c"])];
  let total = 0;
  for (const s of strings) total += utf8Length(s) + 1 + 8;
  for (const [name, value] of env) total += utf8Length(name) + utf8Length(value) + 2 + 8;
  if (total > MAX_EXEC_ARGV_ENV_BYTES) {
    ctx.addIssue({
      code: "custom",
      message: `command, args and env together are at most ${MAX_EXEC_ARGV_ENV_BYTES} bytes`,
    });
  }
}

/** What to run (see {@link commandSpecSchema}). */
export type CommandSpec = z.infer<typeof commandSpecSchema>;

/**
 * Body of `POST /api/v1/vms/{id}/execute`. `stdin` is UTF-8 text written to the command's standard
 * input, which is then closed; binary input goes through the exec WebSocket. A non-zero exit code is
 * a normal `200` answer, not an error.
 */
export const executeBodySchema = z
  .strictObject({
    ...commandSpecSchema.shape,
    stdin: z.string().max(10_485_760, "stdin is at most 10 MiB").optional(),
  })
  .superRefine(checkExecArgvSize);

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

/**
 * `{execution}`: answer of `GET /api/v1/executions/{id}`.
 * @alias
 */
export const executionResponseSchema = executeResponseSchema;

/** `{execution}` response. */
export type ExecutionResponse = ExecuteResponse;
