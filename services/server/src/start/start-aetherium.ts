import { mkdir } from "node:fs/promises";
import path from "node:path";
import { createLogger, createShutdown, type Config, type Logger } from "@aetherium/common";
import { openControlPlane, recoverInterruptedWork } from "@aetherium/core";
import { AETHERIUM_VERSION } from "@aetherium/types";
import { startGatewayProcess } from "@aetherium/gateway";
import { startWorkerProcess } from "@aetherium/worker";
import { prepareDocker } from "./prepare-docker.js";

/** A started Aetherium process. */
export interface RunningAetherium {
  /** The URL the API and the dashboard answer on. */
  readonly url: string;
  /** The bootstrap admin key. */
  readonly adminKey: string;
  /** Stops everything it started, in reverse order. */
  close(): Promise<void>;
}

/**
 * Starts gateway + worker (+ the dashboard build, when present) in one process. With no database
 * or Redis configured this is the embedded mode (`npm start`): PGlite under `home` (migrations
 * applied) and the in-process queue. On first run it builds the sandbox base image when Docker
 * answers and the image is missing (with progress); whatever is still missing, the banner and
 * `/health` say so and what to run.
 */
export async function startAetherium(
  config: Config,
  options: {
    logger?: Logger;
    installSignalHandlers?: boolean;
    /** Build the base image when missing (default true). */
    buildImage?: boolean;
    /** Where progress lines go (default stdout). */
    print?: (line: string) => void;
  } = {},
): Promise<RunningAetherium> {
  const logger = options.logger ?? createLogger({ ...config.logging, service: "aetherium" });
  const print = options.print ?? ((line: string) => console.log(line));
  await mkdir(path.resolve(config.home), { recursive: true });
  const shutdown = createShutdown({
    logger,
    signals: options.installSignalHandlers === false ? [] : undefined,
  });

  if (options.buildImage !== false) await prepareDocker(config, print);

  const runtime = await openControlPlane(config, { logger });
  shutdown.register("runtime", () => runtime.close());
  // The in-process queue held the jobs of a process that may have died: settle its leftovers
  // before anything consumes (a shared PostgreSQL and Redis keep their own jobs, and the reaper
  // and stalled-job recovery settle a dead worker's work there).
  if (runtime.mode === "embedded") await recoverInterruptedWork(runtime, logger);

  // One reaper per process: the gateway's.
  const worker = await startWorkerProcess(runtime, config, {
    logger,
    internalPort: 0,
    reaper: false,
  });
  shutdown.register("worker", () => worker.close(10_000));
  const sandboxes = worker.sandboxes!;

  const { gateway, close } = await startGatewayProcess(runtime, config, {
    logger,
    // One terminal shows the banner and the one-time admin key: a line per request would push
    // them out of view. `AETHERIUM_LOG_LEVEL=debug` brings the request lines back.
    requestLogLevel: "debug",
    local: sandboxes,
    metricsRegistries: [worker.daemon.metrics.registry],
  });
  shutdown.register("gateway", close);

  // The banner goes to stdout in one write, as plain lines a person (and the e2e test) can read.
  const key = gateway.adminKey;
  const lines = [
    `Aetherium ${AETHERIUM_VERSION} is running at ${gateway.url}`,
    `  mode:        ${runtime.mode} (database: ${runtime.db.engine}, queue: ${runtime.mode === "embedded" ? "in-process" : "BullMQ"})`,
    `  state:       ${path.resolve(config.home)}`,
    ...sandboxes.status.map(
      (b) => `  ${b.backend.padEnd(12)} ${b.ready ? "ready" : "unavailable"}: ${b.detail}`,
    ),
    sandboxes.ready
      ? `  sandboxes:   ready on ${sandboxes.backends.join(", ")}`
      : "  sandboxes:   no sandbox backend ready — the API answers; the lines above say what is missing",
    gateway.dashboard
      ? `  dashboard:   ${gateway.url}/`
      : "  dashboard:   not built (npm run build:ui -w services/dashboard)",
    `  API docs:    ${gateway.url}/api/v1/docs`,
    key.created
      ? `  admin key:   ${key.secret}   (shown once; kept in ${key.file})`
      : key.file
        ? `  admin key:   in ${key.file}`
        : "  admin key:   the one in AETHERIUM_API_KEY",
    // `aether` is the workspace's bin, not on PATH: npx finds it from anywhere in the checkout.
    `  try:         npx aether vm create --name hello && npx aether exec hello -- echo hi`,
  ];
  print(lines.join("\n"));

  return {
    url: gateway.url,
    adminKey: key.secret,
    close: () => shutdown.shutdown("closed").then(() => undefined),
  };
}
