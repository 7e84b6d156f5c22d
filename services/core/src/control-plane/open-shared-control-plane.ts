import {
  ConfigError,
  createShutdown,
  type Config,
  type Logger,
  type Shutdown,
} from "@aetherium/common";
import { openControlPlane, type ControlPlane } from "./open-control-plane.js";

/**
 * The runtime of a process that shares its state with others (`aetherium gateway`, `aetherium
 * worker`): refuses to start without PostgreSQL and Redis, since a second process on an embedded
 * database would see nothing the first one does, and closes the runtime last on SIGTERM/SIGINT.
 */
export async function openSharedControlPlane(
  config: Config,
  options: { readonly logger: Logger; readonly role: "gateway" | "worker" },
): Promise<{ runtime: ControlPlane; shutdown: Shutdown }> {
  if (!config.database.url || !config.redis.url) {
    throw new ConfigError([
      {
        path: config.database.url ? "redis.url" : "database.url",
        message: `a separate ${options.role} shares state through PostgreSQL and Redis: set AETHERIUM_DATABASE_URL and AETHERIUM_REDIS_URL (or run \`aetherium start\` for everything in one process)`,
      },
    ]);
  }
  const shutdown = createShutdown({ logger: options.logger });
  const runtime = await openControlPlane(config, { logger: options.logger });
  shutdown.register("runtime", () => runtime.close());
  return { runtime, shutdown };
}
