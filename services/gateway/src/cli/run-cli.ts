import {
  ConfigError,
  createLogger,
  createShutdown,
  isAetheriumError,
  loadConfig,
} from "@aetherium/common";
import {
  Migrator,
  openDatabase,
  openRuntime,
  openSandboxRuntime,
  startReaper,
  startWorker,
} from "@aetherium/core";
import path from "node:path";
import { buildImageWithProgress } from "../start/build-image.js";
import { openGateway } from "../start/open-gateway.js";
import { startAetherium } from "../start/start-aetherium.js";

const USAGE = `usage: aetherium <command>

commands:
  start                 run gateway + worker + dashboard in one process (what \`npm start\` runs)
  gateway               run an API gateway only (distributed setup: needs AETHERIUM_DATABASE_URL and AETHERIUM_REDIS_URL)
  image build           build the sandbox base image from Debian packages (needs root, dockerd)
  worker                run this host's worker (needs AETHERIUM_DATABASE_URL and AETHERIUM_REDIS_URL)
  migrate up|down|status  apply, revert (one step) or list database migrations
  help                  show this text

configuration: a YAML file named by AETHERIUM_CONFIG, overridden by AETHERIUM_* variables
(AETHERIUM_HOST, AETHERIUM_PORT, AETHERIUM_HOME, AETHERIUM_DATABASE_URL, AETHERIUM_REDIS_URL, …)`;

/** Dispatches a command line; resolves to the process exit code (a long-running command to 0). */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [command = "help", ...rest] = argv;
  try {
    switch (command) {
      case "start":
        await startAetherium(loadConfig({ env: process.env }));
        return 0;
      case "worker":
        await runWorker();
        return 0;
      case "gateway":
        await runGateway();
        return 0;
      case "image":
        if (rest[0] !== "build") {
          console.error("usage: aetherium image build");
          return 2;
        }
        await buildImage();
        return 0;
      case "migrate":
        return await migrate(rest[0] ?? "status");
      case "help":
      case "--help":
      case "-h":
        console.log(USAGE);
        return 0;
      default:
        console.error(`aetherium: unknown command '${command}'\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    // A user's mistake (bad config, say) reads as one clear line, not a stack trace.
    if (isAetheriumError(err)) {
      console.error(`aetherium: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

/**
 * `aetherium worker`: one per host in the distributed setup. Runs until SIGTERM/SIGINT, then
 * stops taking jobs and finishes (or hands back) the running ones before exiting.
 */
async function runWorker(): Promise<void> {
  const config = loadConfig({ env: process.env });
  const logger = createLogger({ ...config.logging, service: "worker" });
  if (!config.database.url || !config.redis.url) {
    throw new ConfigError([
      {
        path: config.database.url ? "redis.url" : "database.url",
        message:
          "a separate worker shares state through PostgreSQL and Redis: set AETHERIUM_DATABASE_URL and AETHERIUM_REDIS_URL (or run `aetherium start` for everything in one process)",
      },
    ]);
  }
  const shutdown = createShutdown({ logger });
  const runtime = await openRuntime(config, { logger });
  shutdown.register("runtime", () => runtime.close());
  const sandboxes = await openSandboxRuntime(runtime, config, logger);
  shutdown.register("sandboxes", () => sandboxes.close());
  for (const b of sandboxes.status)
    console.log(`${b.backend}: ${b.ready ? "ready" : "unavailable"}: ${b.detail}`);
  const worker = await startWorker(runtime, config, {
    logger,
    backends: sandboxes.backends,
    handlers: sandboxes.handlers,
    ...(sandboxes.manager ? { manager: sandboxes.manager } : {}),
  });
  shutdown.register("worker", () => worker.stop());
  console.log(`worker ${worker.daemon.id} running; health at ${worker.daemon.internalUrl}/healthz`);
}

/**
 * `aetherium gateway`: a stateless API gateway (run as many as you like) in front of the shared
 * PostgreSQL and Redis. Sandboxes run on `aetherium worker` hosts.
 */
async function runGateway(): Promise<void> {
  const config = loadConfig({ env: process.env });
  const logger = createLogger({ ...config.logging, service: "gateway" });
  if (!config.database.url || !config.redis.url) {
    throw new ConfigError([
      {
        path: config.database.url ? "redis.url" : "database.url",
        message:
          "a separate gateway shares state through PostgreSQL and Redis: set AETHERIUM_DATABASE_URL and AETHERIUM_REDIS_URL (or run `aetherium start` for everything in one process)",
      },
    ]);
  }
  const shutdown = createShutdown({ logger });
  const runtime = await openRuntime(config, { logger });
  shutdown.register("runtime", () => runtime.close());
  // Liveness is judged here too: with every worker down, their tasks, sandboxes and executions
  // must still end in a true state, and nobody else is left to notice.
  const reaper = startReaper(runtime, config, logger);
  shutdown.register("reaper", () => reaper.stop());
  const gateway = await openGateway(runtime, config, { logger });
  shutdown.register("http server", () => gateway.close());
  console.log(`gateway running at ${gateway.url}`);
  if (gateway.adminKey.created) {
    console.log(
      `admin key: ${gateway.adminKey.secret} (shown once; kept in ${gateway.adminKey.file})`,
    );
  }
}

/** `aetherium image build`: debootstrap + agent + node + mise → `docker import`, cached. */
async function buildImage(): Promise<void> {
  const config = loadConfig({ env: process.env });
  const started = Date.now();
  const image = await buildImageWithProgress(config, (line) => console.log(line));
  const cached = Object.entries(image.cached)
    .filter(([, hit]) => hit)
    .map(([layer]) => layer);
  console.log(
    `${image.tag} ready (${image.imageId.slice(7, 19)}) in ${((Date.now() - started) / 1000).toFixed(1)} s` +
      (cached.length ? `; reused: ${cached.join(", ")}` : ""),
  );
}

async function migrate(action: string): Promise<number> {
  const config = loadConfig({ env: process.env });
  const logger = createLogger({ ...config.logging, service: "migrate" });
  const handle = config.database.url
    ? await openDatabase({ url: config.database.url })
    : await openDatabase({ pglite: path.resolve(config.home, "pgdata") });
  try {
    const migrator = new Migrator(handle.db);
    if (action === "up") {
      const applied = await migrator.up();
      console.log(
        applied.length ? applied.map((m) => `applied ${m.name}`).join("\n") : "nothing to apply",
      );
    } else if (action === "down") {
      const reverted = await migrator.down(1);
      console.log(
        reverted.length
          ? reverted.map((m) => `reverted ${m.name}`).join("\n")
          : "nothing to revert",
      );
    } else if (action === "status") {
      const status = await migrator.status();
      for (const m of status.applied) console.log(`applied  ${m.name}`);
      for (const m of status.pending) console.log(`pending  ${m.name}`);
    } else {
      console.error(`aetherium migrate: unknown action '${action}' (use up, down or status)`);
      return 2;
    }
    logger.debug({ action }, "migrate done");
    return 0;
  } finally {
    await handle.close();
  }
}
