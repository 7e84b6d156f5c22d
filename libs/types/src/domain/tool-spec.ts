import { z } from "zod";

/**
 * Pattern of a tool spec as mise understands it: an optional backend prefix (`npm:`, `ubi:`), a
 * tool name (may be a scoped package or `owner/repo`), and an optional `@version` (`20`, `3.12`,
 * `latest`, `lts`), so `node@20` is a valid spec.
 */
export const TOOL_SPEC_PATTERN =
  /^(?:[a-z][a-z0-9-]*:)?(?:@[A-Za-z0-9][A-Za-z0-9._-]*\/)?[A-Za-z0-9][A-Za-z0-9._/-]*(?:@[A-Za-z0-9][A-Za-z0-9._+-]*)?$/;

/** The largest number of tools one sandbox, environment or workspace may ask for. */
export const MAX_TOOLS = 32;

/** A tool to install in a sandbox: `node@20`, `python@3.12`, `go`, `npm:@anthropic-ai/claude-code@latest`. */
export const toolSpecSchema = z
  .string()
  .max(200, "tool specs are at most 200 characters")
  .regex(TOOL_SPEC_PATTERN, "must be a tool spec like 'node@20', 'python@3.12' or 'go'");

/** A tool spec string (see {@link toolSpecSchema}). */
export type ToolSpec = z.infer<typeof toolSpecSchema>;

/** A list of tool specs. */
export const toolsSchema = z.array(toolSpecSchema).max(MAX_TOOLS, `at most ${MAX_TOOLS} tools`);

/** A tool spec split into its parts; `version` is absent when the spec names none ("latest" is the installer's choice). */
export interface ParsedToolSpec {
  /** Tool name including any backend prefix, e.g. `node`, `npm:@scope/pkg`. */
  name: string;
  /** Requested version, e.g. `20`; undefined when the spec has no `@version`. */
  version: string | undefined;
}

/**
 * Splits a tool spec into name and version. The version is whatever follows the last `@` that is
 * not the start of a scoped package name, so `npm:@scope/pkg@1.2` gives `npm:@scope/pkg` and `1.2`.
 * Throws when the spec is not valid.
 */
export function parseToolSpec(spec: string): ParsedToolSpec {
  toolSpecSchema.parse(spec);
  const at = spec.lastIndexOf("@");
  // An `@` directly after the prefix or at the start opens a scope, not a version.
  if (at <= 0 || spec[at - 1] === ":") return { name: spec, version: undefined };
  return { name: spec.slice(0, at), version: spec.slice(at + 1) };
}
