import { mkdir } from "node:fs/promises";
import path from "node:path";
import { createLogger, createShutdown, type Config, type Logger } from "@aetherium/common";
import { AETHERIUM_VERSION, openRuntime, openSandboxRuntime, startWorker } from "@aetherium/core";
import { buildServer, type HealthReport } from "../server/build-server.js";

/** A started Aetherium process. */
export interface RunningAetherium {
  /** The URL the API (and later the dashboard) answers on. */
  readonly url: string;
  /** Stops everything it started, in reverse order. */
  close(): Promise<void>;
}

/**
 * Starts gateway + worker in one process. With no database or Redis configured this is the
 * embedded mode (`npm start`): PGlite under `home` (migrations applied) and the in-process
 * queue. Sandbox backends are probed and reported honestly: Docker is offered when the engine
 * answers and the base image exists; otherwise the banner and `/health` say what is missing.
 */
export async function startAetherium(
  config: Config,
  options: { logger?: Logger; installSignalHandlers?: boolean } = {},
): Promise<RunningAetherium> {
  const logger = options.logger ?? createLogger({ ...config.logging, service: "aetherium" });
  await mkdir(path.resolve(config.home), { recursive: true });
  const shutdown = createShutdown({
    logger,
    signals: options.installSignalHandlers === false ? [] : undefined,
  });

  const runtime = await openRuntime(config, { logger });
  shutdown.register("runtime", () => runtime.close());

  const sandboxes = await openSandboxRuntime(runtime, config, logger);
  shutdown.register("sandboxes", () => sandboxes.close());
  const worker = await startWorker(runtime, config, {
    logger,
    backends: sandboxes.backends,
    handlers: sandboxes.handlers,
    internalPort: 0,
  });
  shutdown.register("worker", () => worker.stop(10_000));

  const health = async (): Promise<HealthReport> => {
    const components: HealthReport["components"] = {};
    try {
      await runtime.repos.workers.get(worker.daemon.id);
      components.database = { status: "ok", detail: runtime.db.engine };
    } catch (err) {
      components.database = { status: "down", detail: (err as Error).message };
    }
    components.queue = {
      status: "ok",
      detail: runtime.mode === "embedded" ? "in-process" : "bullmq",
    };
    for (const b of sandboxes.status) {
      components[`backend:${b.backend}`] = { status: b.ready ? "ok" : "down", detail: b.detail };
    }
    components.sandboxes = sandboxes.manager
      ? { status: "ok", detail: `on ${sandboxes.backends.join(", ")}` }
      : { status: "down", detail: "no sandbox backend ready" };
    // Backends this host lacks are listed for information; what matters is that state, queue and
    // at least one sandbox backend work.
    const ok = [components.database, components.queue, components.sandboxes].every(
      (c) => c.status === "ok",
    );
    return { status: ok ? "ok" : "degraded", version: AETHERIUM_VERSION, components };
  };

  const app = buildServer({ logger, health });
  const address = await app.listen({ host: config.server.host, port: config.server.port });
  shutdown.register("http server", () => app.close());
  const url = address.replace("[::1]", "localhost");

  // The banner goes to stdout in one write, as plain lines a person (and the e2e test) can read.
  const lines = [
    `Aetherium ${AETHERIUM_VERSION} is running at ${url}`,
    `  mode:        ${runtime.mode} (database: ${runtime.db.engine}, queue: ${runtime.mode === "embedded" ? "in-process" : "BullMQ"})`,
    `  state:       ${path.resolve(config.home)}`,
    ...sandboxes.status.map(
      (b) => `  ${b.backend.padEnd(12)} ${b.ready ? "ready" : "unavailable"}: ${b.detail}`,
    ),
    sandboxes.manager
      ? `  sandboxes:   ready on ${sandboxes.backends.join(", ")}`
      : "  sandboxes:   no sandbox backend ready — the API answers; the lines above say what is missing",
  ];
  console.log(lines.join("\n"));

  return { url, close: () => shutdown.shutdown("closed").then(() => undefined) };
}
