import { z } from "zod";
import { executionIdSchema, vmIdSchema } from "./ids.js";
import { timestampSchema } from "./primitives.js";

/**
 * One command run in a sandbox, as `GET /api/v1/executions/{id}` returns it. Every exec is
 * recorded, streamed ones included.
 *
 * `exitCode` is null while running or when the command could not start (then `error` says why); a
 * non-zero `exitCode` is a normal outcome, not an error. Output kept here is capped; the
 * `…Truncated` flags say when the tail was cut. `args` is empty for shell commands
 * (`/bin/sh -c command`). A command whose client closed its exec socket while it ran (a terminal
 * closed) is killed and recorded with `error: "closed by client"`, a deliberate end rather than a
 * failure.
 *
 * `stdout` and `stderr` are text: bytes that are not valid UTF-8, and NUL, are stored as U+FFFD,
 * so binary output is not kept exactly. The exec WebSocket streams the exact bytes (base64).
 */
export const executionSchema = z.object({
  id: executionIdSchema,
  vmId: vmIdSchema,
  command: z.string(),
  args: z.array(z.string()),
  exitCode: z.number().int().nullable(),
  stdout: z.string().describe("UTF-8 text: invalid bytes and NUL become U+FFFD"),
  stderr: z.string().describe("UTF-8 text: invalid bytes and NUL become U+FFFD"),
  stdoutTruncated: z.boolean(),
  stderrTruncated: z.boolean(),
  error: z.string().nullable(),
  startedAt: timestampSchema,
  completedAt: timestampSchema.nullable(),
  durationMs: z.number().int().nonnegative().nullable(),
  pty: z
    .boolean()
    .default(false)
    .describe(
      "ran on a terminal (an interactive shell): its duration is how long the shell stayed open",
    ),
});

/** A recorded execution (see {@link executionSchema}). */
export type Execution = z.infer<typeof executionSchema>;
