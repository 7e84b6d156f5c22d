import { readFileSync } from "node:fs";
import path from "node:path";
import { formatPath } from "@aetherium/types";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { ConfigError, type ConfigProblem } from "../errors/index.js";
import { configSchema, type Config } from "./config-schema.js";
import { envOverrides, type EnvOverride } from "./env-overrides.js";
import { expandVars, isPlainObject, type EnvSource } from "./expand-vars.js";

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** YAML file to read; default `env.AETHERIUM_CONFIG`; none: defaults + env only. */
  file?: string;
  /** Environment to read overrides and `${VAR}` values from; default `process.env`. */
  env?: EnvSource;
  /** Directory relative paths (the file, `home`) are resolved against; default `process.cwd()`. */
  cwd?: string;
}

// Keys whose values never appear in error messages.
const SECRET_KEY = /(apikey|password|secret|token|encryptionkey|url)$/i;

/**
 * Loads the platform configuration. Sources, lowest precedence first:
 *
 * 1. the schema's defaults;
 * 2. the YAML file (`file`, else `AETHERIUM_CONFIG`), with `${VAR}` / `${VAR:-default}` expanded
 *    in string values;
 * 3. `AETHERIUM_*` environment variables: the well-known names (`AETHERIUM_PORT`,
 *    `AETHERIUM_DATABASE_URL`, … see `ENV_ALIASES`) and `AETHERIUM_SECTION__KEY` for any key.
 *
 * Strings from the environment are coerced by the schema (`"9000"` → 9000, `"true"` → true,
 * `"a,b"` → `["a","b"]`). `home` is returned as an absolute path. Call it explicitly at start-up;
 * nothing is read at import time.
 *
 * @throws {ConfigError} listing every bad key, where its value came from, the file, and what was
 *   expected; also for an unreadable or malformed file and a `${VAR}` with no value.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const fileArg = options.file ?? nonEmpty(env.AETHERIUM_CONFIG);
  const file = fileArg === undefined ? undefined : path.resolve(cwd, fileArg);

  let input: Record<string, unknown> = {};
  if (file !== undefined) {
    const doc = readYamlFile(file);
    const expanded = expandVars(doc, env);
    if (expanded.problems.length > 0) throw new ConfigError(expanded.problems, file);
    input = expanded.value as Record<string, unknown>;
  }

  const overrides = envOverrides(env);
  const conflicts: ConfigProblem[] = [];
  for (const override of overrides) {
    const problem = setPath(input, override);
    if (problem !== undefined) conflicts.push(problem);
  }
  if (conflicts.length > 0) throw new ConfigError(conflicts, file);

  const result = configSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(toProblems(result.error.issues, input, overrides), file, {
      cause: result.error,
    });
  }
  const config = result.data;
  return { ...config, home: path.resolve(cwd, config.home) };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function readYamlFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : String(err);
    throw new ConfigError(
      [{ path: "(root)", message: `cannot read config file: ${reason}` }],
      file,
      {
        cause: err,
      },
    );
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        path: "(root)",
        message: `invalid YAML: ${e.message.split("\n")[0] ?? e.message}`,
      })),
      file,
    );
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) {
    throw new ConfigError(
      [{ path: "(root)", message: "expected a YAML mapping of sections (server:, database:, …)" }],
      file,
    );
  }
  return value;
}

/** Sets `override.value` at its path in `target`, creating sections; reports a clash with a scalar. */
function setPath(
  target: Record<string, unknown>,
  override: EnvOverride,
): ConfigProblem | undefined {
  let node = target;
  const { path: keys } = override;
  for (let i = 0; i < keys.length - 1; i++) {
    const key = keys[i] as string;
    const next = node[key];
    if (next === undefined) {
      const created: Record<string, unknown> = {};
      node[key] = created;
      node = created;
    } else if (isPlainObject(next)) {
      node = next;
    } else {
      return {
        path: keys.slice(0, i + 1).join("."),
        message: "is not a section, so it cannot have nested keys",
        source: override.source,
      };
    }
  }
  node[keys[keys.length - 1] as string] = override.value;
  return undefined;
}

function toProblems(
  issues: readonly z.core.$ZodIssue[],
  input: Record<string, unknown>,
  overrides: readonly EnvOverride[],
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const push = (issuePath: readonly PropertyKey[], message: string, showValue = true) => {
    const problem: ConfigProblem = { path: formatPath(issuePath), message };
    const got = showValue ? describeValue(issuePath, input) : undefined;
    if (got !== undefined) problem.message += ` (got ${got})`;
    const source = findSource(issuePath, overrides);
    if (source !== undefined) problem.source = source;
    problems.push(problem);
  };
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) push([...issue.path, key], "unknown key", false);
    } else {
      push(issue.path, issue.message);
    }
  }
  return problems;
}

function describeValue(issuePath: readonly PropertyKey[], input: unknown): string | undefined {
  if (issuePath.some((k) => typeof k === "string" && SECRET_KEY.test(k))) return undefined;
  let node: unknown = input;
  for (const key of issuePath) {
    if (!isPlainObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  if (typeof node === "string") return JSON.stringify(node);
  if (typeof node === "number" || typeof node === "boolean") return String(node);
  return undefined;
}

function findSource(
  issuePath: readonly PropertyKey[],
  overrides: readonly EnvOverride[],
): string | undefined {
  // The last override wins when two set the same key, so search from the end.
  for (let i = overrides.length - 1; i >= 0; i--) {
    const o = overrides[i];
    if (o !== undefined && o.path.every((k, j) => issuePath[j] === k)) return o.source;
  }
  return undefined;
}
