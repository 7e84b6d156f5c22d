/**
 * Parsing of command-line values: `K=V` pairs, sizes, durations, `vm:path` operands.
 * @module
 */

/** A mistake in how the command was called: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** `["A=1", "B=x=y"]` → `{A: "1", B: "x=y"}`; `what` names the flag in errors. */
export function parseKeyValues(
  items: readonly string[] | undefined,
  what: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`${what} "${item}" must be KEY=VALUE`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  m: 1,
  mb: 1,
  mib: 1,
  g: 1024,
  gb: 1024,
  gib: 1024,
  t: 1024 * 1024,
  tb: 1024 * 1024,
  tib: 1024 * 1024,
};

/** A size in MiB: `512` (MiB), `512m`, `2g`, `1.5GiB`. */
export function parseSizeMb(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(
      `${what} "${text}" must be a size such as 512, 512m or 2g (MiB by default)`,
    );
  }
  const mb = Math.round(Number(m[1]) * unit);
  if (mb <= 0) throw new UsageError(`${what} must be more than 0`);
  return mb;
}

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, "": 1, m: 60, h: 3600, d: 86400 };

/** A duration in seconds: `90` (seconds), `90s`, `10m`, `2h`, `1d`, `1h30m`. */
export function parseDurationSec(text: string, what: string): number {
  const trimmed = text.trim();
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)?/g)];
  const joined = parts.map((p) => p[0]).join("");
  if (parts.length === 0 || joined !== trimmed) {
    throw new UsageError(
      `${what} "${text}" must be a duration such as 30s, 10m or 2h (seconds by default)`,
    );
  }
  let sec = 0;
  for (const p of parts) sec += Number(p[1]) * DURATION_UNITS[p[2] ?? ""]!;
  if (sec <= 0) throw new UsageError(`${what} must be more than 0`);
  return sec;
}

/** A positive whole number. */
export function parsePositiveInt(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) <= 0) {
    throw new UsageError(`${what} "${text}" must be a whole number above 0`);
  }
  return Number(text);
}

/** One side of `aether cp`: a path inside a sandbox (`vm:/path`) or on this machine. */
export type CpOperand = { kind: "vm"; vm: string; path: string } | { kind: "local"; path: string };

/**
 * `demo:/etc/hosts` is a sandbox path (sandbox names and ids never contain `:` or `/`, and the path
 * must be absolute); anything else, `./a:b` included, is local.
 */
export function parseCpOperand(text: string): CpOperand {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(\/.*)$/.exec(text);
  if (m) return { kind: "vm", vm: m[1]!, path: m[2]! };
  return { kind: "local", path: text };
}

/** How `aether exec` runs its words: one word is a shell command line, several are argv. */
export function commandFromWords(words: readonly string[]): { command: string; args?: string[] } {
  if (words.length === 0) throw new UsageError("no command given: aether exec <vm> -- <command…>");
  if (words.length === 1) return { command: words[0]! };
  return { command: words[0]!, args: words.slice(1) };
}

/** `read,write` → `["read", "write"]`, checked against the known scopes. */
export function parseScopes(text: string): ("read" | "write" | "admin")[] {
  const scopes = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of scopes) {
    if (s !== "read" && s !== "write" && s !== "admin") {
      throw new UsageError(`scope "${s}" must be read, write or admin`);
    }
  }
  if (scopes.length === 0) throw new UsageError("--scope needs at least one of read, write, admin");
  return scopes as ("read" | "write" | "admin")[];
}
