import path from "node:path";
import { isAetheriumError, loadConfig, type Config } from "@aetherium/common";
import { DEFAULT_BASE_IMAGE } from "@aetherium/core";
import { buildServiceImagesWithProgress } from "../service-images/build-with-progress.js";
import { CLUSTER_SERVICE_NAMES } from "../service-images/service-catalog.js";
import { buildImageWithProgress } from "../start/build-image.js";
import { CLUSTER_NAME_PATTERN, DEFAULT_CLUSTER_PORT } from "./cluster-plan.js";
import {
  clusterDown,
  clusterStateDir,
  clusterStatus,
  clusterUp,
  loadClusterSettings,
} from "./local-cluster.js";

const USAGE = `usage: aetherium cluster up|down|status [--name <name>] [--purge]

  up      build the images (cached), then start PostgreSQL, Redis, migrations, two workers, two
          gateways and a load balancer on 127.0.0.1:$AETHERIUM_CLUSTER_PORT (default ${DEFAULT_CLUSTER_PORT})
  down    remove the cluster's containers and its workers' sandboxes (--purge: also its volumes
          and its state, keys included)
  status  list the cluster's containers

--name (default aetherium) prefixes every container and volume. AETHERIUM_API_KEY sets the admin
key; otherwise one is generated and kept in <home>/clusters/<name>/admin.key.
AETHERIUM_WORKER__HEARTBEAT_MS, AETHERIUM_WORKER__OFFLINE_AFTER_MS (workers and gateways) and
AETHERIUM_WORKER__CAPACITY__VCPUS (workers) are passed on.`;

function parsePort(value: string | undefined): number | undefined | Error {
  if (value === undefined || value === "") return undefined;
  const port = Number(value);
  // The cluster takes this port and the six after it.
  if (!Number.isInteger(port) || port < 1024 || port > 65_529) {
    return new Error(
      `AETHERIUM_CLUSTER_PORT must be an integer from 1024 to 65529, got '${value}'`,
    );
  }
  return port;
}

function intEnv(value: string | undefined): number | undefined {
  return value === undefined || value === "" ? undefined : Number(value);
}

/** `aetherium cluster …`; resolves to the exit code. */
export async function runClusterCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  print: (line: string) => void,
): Promise<number> {
  const [action, ...rest] = args;
  let name = "aetherium";
  let purge = false;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--name" && rest[i + 1] !== undefined) name = rest[++i]!;
    else if (rest[i] === "--purge" && action === "down") purge = true;
    else {
      console.error(`aetherium cluster: unexpected argument '${rest[i]}'\n\n${USAGE}`);
      return 2;
    }
  }
  if (!CLUSTER_NAME_PATTERN.test(name)) {
    console.error(
      `aetherium cluster: --name must be 1-24 characters of a-z, 0-9 and '-', starting with a letter or digit`,
    );
    return 2;
  }
  const port = parsePort(env.AETHERIUM_CLUSTER_PORT);
  if (port instanceof Error) {
    console.error(`aetherium cluster: ${port.message}`);
    return 2;
  }
  const config = loadConfig({ env });
  try {
    return await dispatch(action, name, purge, port, config, env, print);
  } catch (err) {
    // An engine, build or start-up failure reads as what failed, not as a stack trace.
    if (isAetheriumError(err)) throw err;
    console.error(`aetherium cluster ${action}: ${(err as Error).message}`);
    return 1;
  }
}

async function dispatch(
  action: string | undefined,
  name: string,
  purge: boolean,
  port: number | undefined,
  config: Config,
  env: NodeJS.ProcessEnv,
  print: (line: string) => void,
): Promise<number> {
  switch (action) {
    case "up": {
      if (process.getuid?.() !== 0) {
        console.error(
          "aetherium cluster up: needs root (image builds, the workers' run directory mount)",
        );
        return 1;
      }
      const started = Date.now();
      const settings = await loadClusterSettings(config.home, name, {
        ...(port !== undefined ? { port } : {}),
        ...(env.AETHERIUM_API_KEY ? { apiKey: env.AETHERIUM_API_KEY } : {}),
      });
      print(`[cluster] building images`);
      await buildServiceImagesWithProgress(config, CLUSTER_SERVICE_NAMES, (l) => print(`  ${l}`));
      print(`[cluster] building the sandbox image ${DEFAULT_BASE_IMAGE}`);
      await buildImageWithProgress(config, print, "  ");
      const heartbeatMs = intEnv(env.AETHERIUM_WORKER__HEARTBEAT_MS);
      const offlineAfterMs = intEnv(env.AETHERIUM_WORKER__OFFLINE_AFTER_MS);
      const workerVcpus = intEnv(env.AETHERIUM_WORKER__CAPACITY__VCPUS);
      const info = await clusterUp({
        settings,
        sandboxImage: DEFAULT_BASE_IMAGE,
        print,
        ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
        ...(offlineAfterMs !== undefined ? { offlineAfterMs } : {}),
        ...(workerVcpus !== undefined ? { workerVcpus } : {}),
      });
      const keyFile = path.join(clusterStateDir(config.home, name), "admin.key");
      print(
        `cluster ${name} running at ${info.url} (up in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
      print(`admin key: ${env.AETHERIUM_API_KEY ? "AETHERIUM_API_KEY" : keyFile}`);
      print(`try: AETHERIUM_URL=${info.url} AETHERIUM_API_KEY=$(cat ${keyFile}) npx aether vm ls`);
      return 0;
    }
    case "down":
      await clusterDown({ name, print, ...(purge ? { purge: { home: config.home } } : {}) });
      print(`cluster ${name} is down${purge ? " and purged" : ""}`);
      return 0;
    case "status": {
      const lines = await clusterStatus(name);
      if (lines.length === 0) print(`cluster ${name}: no containers`);
      for (const line of lines) print(line);
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}
