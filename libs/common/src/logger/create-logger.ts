import { hostname } from "node:os";
import { pino, type DestinationStream, type Logger as PinoLogger } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "../config/index.js";
import { REDACT_PATHS, REDACTION_CENSOR } from "./redact-paths.js";

/**
 * A structured logger (pino's). `logger.child({ requestId, sandboxId, jobId })` returns a logger
 * whose every line carries those ids; `logger.info({ vmId }, "vm started")` logs fields then text.
 */
export type Logger = PinoLogger;

/** Loki shipping options; the shape of `config.logging.loki`. */
export interface LokiLoggerOptions {
  /** Base URL of Loki (`http://loki:3100`); a full push URL is accepted too. Absent: no Loki. */
  url?: string | undefined;
  /** Static labels on every stream; `service` is always added. */
  labels?: Record<string, string>;
  /** Batching; absent: on, every 5 s, at most 10 000 lines buffered. */
  batching?: { enabled?: boolean; intervalMs?: number; maxBufferSize?: number };
}

/** Options of {@link createLogger}; `config.logging` can be spread into it. */
export interface CreateLoggerOptions {
  /** Name of the process or component (`gateway`, `worker`), logged as `service` on every line. */
  service: string;
  /** Lowest level written; default `info`. */
  level?: LogLevel;
  /**
   * `json`: one JSON object per line. `pretty`: human-readable (pino-pretty). `auto` (default):
   * pretty when writing to a terminal outside production, JSON otherwise.
   */
  format?: "json" | "pretty" | "auto";
  /** Where lines go; default stdout. Tests pass a stream to capture output. */
  destination?: DestinationStream;
  /** Ship logs to Loki as well, when `loki.url` is set. */
  loki?: LokiLoggerOptions;
  /** Extra redaction paths, added to {@link REDACT_PATHS}. */
  redact?: readonly string[];
  /** Extra fields on every line. */
  base?: Record<string, unknown>;
}

/**
 * Creates the process's root logger. Lines are JSON (with `level` as a label, `time` as ISO-8601,
 * `service`, `pid`, `hostname`), or pretty in a terminal; secrets under {@link REDACT_PATHS} are
 * replaced by `"[redacted]"`. With a Loki URL, lines are also pushed to Loki from a worker thread
 * (pino-loki), so a slow Loki never blocks the process; call `logger.flush()` before exiting.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const level = options.level ?? "info";
  // Same as pino's own default: synchronous writes to fd 1, so nothing is lost on process.exit().
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  const usePretty =
    options.format === "pretty" ||
    ((options.format ?? "auto") === "auto" &&
      options.destination === undefined &&
      process.stdout.isTTY &&
      process.env.NODE_ENV !== "production");

  const main: DestinationStream = usePretty
    ? pretty({
        destination,
        colorize: options.destination === undefined && process.stdout.isTTY,
        translateTime: "SYS:HH:MM:ss.l",
        ignore: "pid,hostname",
        sync: true,
      })
    : destination;

  const lokiUrl = options.loki?.url;
  const stream =
    lokiUrl === undefined || lokiUrl === ""
      ? main
      : pino.multistream([
          { level: "trace", stream: main },
          { level: "trace", stream: lokiTransport(lokiUrl, options.service, options.loki ?? {}) },
        ]);

  return pino(
    {
      level,
      base: { service: options.service, pid: process.pid, hostname: hostname(), ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACT_PATHS, ...(options.redact ?? [])], censor: REDACTION_CENSOR },
    },
    stream,
  );
}

/**
 * Normalizes a configured Loki URL into pino-loki's `host` (a base URL ending in `/`) and
 * `basicAuth` (from `user:pass@` in the URL). Accepts the base (`http://loki:3100`), a base behind
 * a path prefix (`https://gw/loki-proxy`), or the full push URL (`…/loki/api/v1/push`), since both
 * spellings are common in Loki setups.
 */
export function resolveLokiUrl(url: string): {
  host: string;
  basicAuth?: { username: string; password: string };
} {
  const parsed = new URL(url);
  const basicAuth =
    parsed.username === ""
      ? undefined
      : {
          username: decodeURIComponent(parsed.username),
          password: decodeURIComponent(parsed.password),
        };
  parsed.username = "";
  parsed.password = "";
  parsed.pathname = parsed.pathname.replace(/\/loki\/api\/v1\/push\/?$/, "").replace(/\/?$/, "/");
  return basicAuth === undefined ? { host: parsed.href } : { host: parsed.href, basicAuth };
}

function lokiTransport(url: string, service: string, loki: LokiLoggerOptions): DestinationStream {
  const batching = loki.batching ?? {};
  return pino.transport({
    target: "pino-loki",
    options: {
      ...resolveLokiUrl(url),
      labels: { ...loki.labels, service },
      batching:
        batching.enabled === false
          ? false
          : {
              interval: (batching.intervalMs ?? 5000) / 1000,
              maxBufferSize: batching.maxBufferSize ?? 10_000,
            },
    },
  });
}
