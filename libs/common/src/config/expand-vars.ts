import { formatPath } from "@aetherium/types";
import type { ConfigProblem } from "../errors/index.js";

/** Environment variables as `loadConfig()` sees them. */
export type EnvSource = Readonly<Record<string, string | undefined>>;

// `${NAME}` or `${NAME:-default}`; `$${` escapes a literal `${`.
const VAR_PATTERN = /\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string value of a parsed YAML document (keys
 * are left alone), the way a shell does: the default applies when the variable is unset or empty,
 * and `$${X}` yields a literal `${X}`. A variable that is unset with no default is a problem
 * naming the key path. Returns a new document; the input is not modified.
 */
export function expandVars(
  doc: unknown,
  env: EnvSource,
): { value: unknown; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];

  const walk = (node: unknown, path: PropertyKey[]): unknown => {
    if (typeof node === "string") {
      return node.replace(
        VAR_PATTERN,
        (match, escaped: string | undefined, name: string, fallback: string | undefined) => {
          if (escaped !== undefined) return match.slice(1);
          const value = env[name];
          if (value !== undefined && value !== "") return value;
          if (fallback !== undefined) return fallback;
          problems.push({
            path: formatPath(path),
            message: `environment variable ${name} is not set and has no default (write \${${name}:-default})`,
          });
          return match;
        },
      );
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (isPlainObject(node)) {
      return Object.fromEntries(
        Object.entries(node).map(([key, value]) => [key, walk(value, [...path, key])]),
      );
    }
    return node;
  };

  return { value: walk(doc, []), problems };
}

/** True for `{…}` objects (not arrays, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
