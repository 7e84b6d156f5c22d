import { createLogger } from "@aetherium/common";
import { loadManagerConfig } from "./config/manager-config.js";
import { openManager } from "./root/manager-root.js";

/** The manager's process entry: `node services/k8s-manager/dist/main.js` (the image's command). */
async function main(): Promise<void> {
  let config;
  try {
    config = loadManagerConfig(process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ service: "k8s-manager", level: config.logLevel });
  const manager = await openManager(config, { logger });
  logger.info(
    { namespace: config.namespace, workers: config.workers, port: config.port },
    "k8s-manager started",
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping; giving up the Lease");
    manager.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

void main();
