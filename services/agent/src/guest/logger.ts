/** Severity of an agent log line. */
export type AgentLogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<AgentLogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Fields of a log line: only ids, counts and codes, never params, env, argv or secrets. */
export type AgentLogFields = Record<string, string | number | boolean | null | undefined>;

/** The agent's logger: one JSON object per line. */
export interface AgentLogger {
  debug(msg: string, fields?: AgentLogFields): void;
  info(msg: string, fields?: AgentLogFields): void;
  warn(msg: string, fields?: AgentLogFields): void;
  error(msg: string, fields?: AgentLogFields): void;
}

/**
 * A JSON-lines logger. The agent has no pino (the bundle stays small) and no log file: it writes to
 * stderr, which the sandbox backend collects (`docker logs`, the VM console).
 */
export function createLogger(
  level: AgentLogLevel,
  write: (line: string) => void = (line) => process.stderr.write(line),
): AgentLogger {
  const min = RANK[level];
  const log = (lvl: AgentLogLevel, msg: string, fields?: AgentLogFields): void => {
    if (RANK[lvl] < min) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields })}\n`);
  };
  return {
    debug: (msg, fields) => log("debug", msg, fields),
    info: (msg, fields) => log("info", msg, fields),
    warn: (msg, fields) => log("warn", msg, fields),
    error: (msg, fields) => log("error", msg, fields),
  };
}

/** True for the names {@link createLogger} accepts. */
export function isLogLevel(value: string): value is AgentLogLevel {
  return value in RANK;
}
