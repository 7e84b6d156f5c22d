import {
  ConfigError,
  createShutdown,
  type Config,
  type Logger,
  type Shutdown,
} from "@aetherium/common";
import { openRuntime, type Runtime } from "./open-runtime.js";

/**
 * The runtime of a process that shares its state with others (`aetherium gateway`, `aetherium
 * worker`): refuses to start without PostgreSQL and Redis, since a second process on an embedded
 * database would see nothing the first one does, and closes the runtime last on SIGTERM/SIGINT.
 */
export async function openSharedRuntime(
  config: Config,
  options: { readonly logger: Logger; readonly role: "gateway" | "worker" },
): Promise<{ runtime: Runtime; shutdown: Shutdown }> {
  if (!config.database.url || !config.redis.url) {
    throw new ConfigError([
      {
        path: config.database.url ? "redis.url" : "database.url",
        message: `a separate ${options.role} shares state through PostgreSQL and Redis: set AETHERIUM_DATABASE_URL and AETHERIUM_REDIS_URL (or run \`aetherium start\` for everything in one process)`,
      },
    ]);
  }
  const shutdown = createShutdown({ logger: options.logger });
  const runtime = await openRuntime(config, { logger: options.logger });
  shutdown.register("runtime", () => runtime.close());
  return { runtime, shutdown };
}
