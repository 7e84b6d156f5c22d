import { z } from "zod";

/**
 * Shape shared by every identifier: 1–128 characters of letters, digits, `_`, `.` and `-`,
 * starting with a letter or digit. UUIDs (sandboxes, tasks, executions) and readable worker ids
 * such as `worker-3f2a9c1d` both fit, and none contain `:` or `/`, so ids are safe inside queue
 * names, URL paths and Redis keys.
 */
export const idSchema = z
  .string({ error: "must be a string id" })
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/,
    "must be an id: 1-128 letters, digits, '_', '.' or '-'",
  );

/** An identifier (see {@link idSchema}). */
export type Id = z.infer<typeof idSchema>;

/**
 * Identifier of a sandbox ("VM").
 * @alias
 */
export const vmIdSchema = idSchema;
/** Identifier of a sandbox ("VM"). */
export type VmId = z.infer<typeof vmIdSchema>;

/**
 * Identifier of a durable control-plane task (one row of `tasks`, one queue job).
 * @alias
 */
export const taskIdSchema = idSchema;
/** Identifier of a durable control-plane task. */
export type TaskId = z.infer<typeof taskIdSchema>;

/**
 * Identifier of a recorded command execution.
 * @alias
 */
export const executionIdSchema = idSchema;
/** Identifier of a recorded command execution. */
export type ExecutionId = z.infer<typeof executionIdSchema>;

/**
 * Identifier of a worker host; chosen by the worker itself and stable across its restarts.
 * @alias
 */
export const workerIdSchema = idSchema;
/** Identifier of a worker host. */
export type WorkerId = z.infer<typeof workerIdSchema>;

/**
 * Identifier of an environment template.
 * @alias
 */
export const environmentIdSchema = idSchema;
/** Identifier of an environment template. */
export type EnvironmentId = z.infer<typeof environmentIdSchema>;

/**
 * Identifier of a workspace.
 * @alias
 */
export const workspaceIdSchema = idSchema;
/** Identifier of a workspace. */
export type WorkspaceId = z.infer<typeof workspaceIdSchema>;

/**
 * Identifier of a prompt submitted to a workspace.
 * @alias
 */
export const promptIdSchema = idSchema;
/** Identifier of a prompt submitted to a workspace. */
export type PromptId = z.infer<typeof promptIdSchema>;

/**
 * Identifier of a stored secret (its metadata; the value is never addressable).
 * @alias
 */
export const secretIdSchema = idSchema;
/** Identifier of a stored secret. */
export type SecretId = z.infer<typeof secretIdSchema>;

/**
 * Identifier of an API key (not the key's secret).
 * @alias
 */
export const apiKeyIdSchema = idSchema;
/** Identifier of an API key. */
export type ApiKeyId = z.infer<typeof apiKeyIdSchema>;
