import { z } from "zod";

/** What a string with a NUL character is told: every NUL check in the API says the same. */
export const NO_NUL_MESSAGE = "must not contain NUL characters";

/**
 * A string without NUL characters. NUL cannot travel where API text ends up: PostgreSQL `text`
 * refuses it and `execve` would cut a command, argument or environment value at it. Chain
 * `.min()`/`.max()` as on `z.string()`.
 */
export function noNulString(params?: Parameters<typeof z.string>[0]) {
  return z.string(params).regex(/^[^\0]*$/, NO_NUL_MESSAGE);
}

/**
 * An ISO-8601 timestamp with an explicit offset (`2025-01-31T12:00:00.000Z`). Every time in the
 * API is one of these; durations are plain `…Ms` / `…Sec` numbers instead.
 */
export const timestampSchema = z.iso.datetime({
  offset: true,
  error: "must be an ISO-8601 date-time",
});

/** An ISO-8601 timestamp string. */
export type Timestamp = z.infer<typeof timestampSchema>;

/**
 * A resource name (sandbox, environment, workspace, API key): 1–63 characters of letters, digits,
 * `_`, `.` and `-`, starting with a letter or digit. The limit matches DNS labels and container
 * names, which sandbox names end up in.
 */
export const resourceNameSchema = z
  .string({ error: "must be a string" })
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
    "must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit",
  );

/** A resource name (see {@link resourceNameSchema}). */
export type ResourceName = z.infer<typeof resourceNameSchema>;

/** Pattern of a POSIX environment variable name (`PATH`, `_X`, `NODE_OPTIONS`). */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The largest number of environment variables one request may set. */
export const MAX_ENV_VARS = 256;

/** A POSIX environment variable name. */
export const envNameSchema = z
  .string()
  .max(255, "environment variable names are at most 255 characters")
  .regex(ENV_NAME_PATTERN, "must be a POSIX environment variable name ([A-Za-z_][A-Za-z0-9_]*)");

/**
 * Environment variables to set: names are POSIX names, values any string up to 32 KiB. Key
 * problems are reported at the offending key (`env.1BAD: …`) rather than as a generic record error.
 */
export const envVarsSchema = z
  .record(z.string(), noNulString().max(32_768, "values are at most 32 KiB"))
  .superRefine((env, ctx) => {
    const names = Object.keys(env);
    if (names.length > MAX_ENV_VARS) {
      ctx.addIssue({ code: "custom", message: `at most ${MAX_ENV_VARS} variables` });
    }
    for (const name of names) {
      if (!ENV_NAME_PATTERN.test(name) || name.length > 255) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `"${name}" is not a POSIX environment variable name ([A-Za-z_][A-Za-z0-9_]*)`,
        });
      }
    }
  });

/** Environment variables, name → value. */
export type EnvVars = z.infer<typeof envVarsSchema>;

/** Pattern of a label key: 1–63 characters, letters/digits at both ends, `_ . / -` inside. */
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9_./-]{0,61}[A-Za-z0-9])?$/;

/** Pattern of a label value: up to 255 characters of letters, digits and `_ . : / @ + -`. */
export const LABEL_VALUE_PATTERN = /^[A-Za-z0-9_.:/@+-]{0,255}$/;

/** The largest number of labels on one resource. */
export const MAX_LABELS = 64;

/**
 * Labels: free-form key/value tags used to find and group sandboxes (`?label=team=infra`) and to
 * describe workers. Backends also tag their containers/VMs with them, hence the conservative
 * character set.
 */
export const labelsSchema = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) {
    ctx.addIssue({ code: "custom", message: `at most ${MAX_LABELS} labels` });
  }
  for (const [key, value] of entries) {
    if (!LABEL_KEY_PATTERN.test(key)) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `label key "${key}" must be 1-63 letters, digits, '_', '.', '/' or '-', starting and ending with a letter or digit`,
      });
    } else if (!LABEL_VALUE_PATTERN.test(value)) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `label value for "${key}" must be at most 255 letters, digits or '_ . : / @ + -'`,
      });
    }
  }
});

/** Labels, key → value. */
export type Labels = z.infer<typeof labelsSchema>;

/** An absolute path inside a sandbox (`/workspace/app`). */
export const absolutePathSchema = z
  .string()
  .min(1, "must not be empty")
  .max(4096, "paths are at most 4096 characters")
  .refine((p) => p.startsWith("/"), "must be an absolute path (starting with '/')")
  .refine((p) => !p.includes("\0"), NO_NUL_MESSAGE);

/** An absolute path inside a sandbox. */
export type AbsolutePath = z.infer<typeof absolutePathSchema>;
