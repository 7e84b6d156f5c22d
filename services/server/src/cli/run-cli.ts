import { createLogger, isAetheriumError, loadConfig } from "@aetherium/common";
import { isMigrateAction, runMigrate } from "@aetherium/core";
import { registerDiscordCommands, runGateway } from "@aetherium/gateway";
import { runWorker } from "@aetherium/worker";
import { runClusterCommand } from "../cluster/cluster-command.js";
import { buildServiceImagesWithProgress } from "../service-images/build-with-progress.js";
import { isServiceName, SERVICE_NAMES } from "../service-images/service-catalog.js";
import { buildImageWithProgress, buildVmImageWithProgress } from "../start/build-image.js";
import { startAetherium } from "../start/start-aetherium.js";

const USAGE = `usage: aetherium <command>

commands:
  start                 run gateway + worker + dashboard in one process (what \`npm start\` runs)
  gateway               run an API gateway only (distributed setup: needs AETHERIUM_DATABASE_URL and AETHERIUM_REDIS_URL)
  image build           build the sandbox base image from Debian packages (needs root, dockerd)
  image build --vm      build the microVM guest image: kernel, initramfs, ext4 root disk (needs root, apt-get, mkfs.ext4)
  image build --service <name>|all
                        build a service image aetherium/<name>:<version> (${SERVICE_NAMES.join(", ")}; needs root, dockerd)
  cluster up|down|status [--name <name>]
                        a local cluster on this host's engine: PostgreSQL, Redis, migrations, two gateways
                        behind a load balancer on AETHERIUM_CLUSTER_PORT (8090), two workers
  worker                run this host's worker (needs AETHERIUM_DATABASE_URL and AETHERIUM_REDIS_URL)
  migrate up|down|status  apply, revert (one step) or list database migrations
  integrations discord register  register the /aether slash command with Discord
                        (needs AETHERIUM_DISCORD_APPLICATION_ID and AETHERIUM_DISCORD_BOT_TOKEN)
  help                  show this text

configuration: a YAML file named by AETHERIUM_CONFIG, overridden by AETHERIUM_* variables
(AETHERIUM_HOST, AETHERIUM_PORT, AETHERIUM_HOME, AETHERIUM_DATABASE_URL, AETHERIUM_REDIS_URL, …)`;

const print = (line: string): void => console.log(line);

/** Dispatches a command line; resolves to the process exit code (a long-running command to 0). */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [command = "help", ...rest] = argv;
  try {
    switch (command) {
      case "start":
        await startAetherium(loadConfig({ env: process.env }));
        return 0;
      case "worker": {
        const config = loadConfig({ env: process.env });
        await runWorker(config, createLogger({ ...config.logging, service: "worker" }), print);
        return 0;
      }
      case "gateway": {
        const config = loadConfig({ env: process.env });
        await runGateway(config, createLogger({ ...config.logging, service: "gateway" }), print);
        return 0;
      }
      case "image":
        if (rest[0] === "build" && rest[1] === "--service" && rest.length === 3) {
          const names = rest[2] === "all" ? [...SERVICE_NAMES] : [rest[2] ?? ""];
          const unknown = names.filter((n) => !isServiceName(n));
          if (unknown.length > 0) {
            console.error(
              `aetherium image build: unknown service '${unknown.join(", ")}' (use ${SERVICE_NAMES.join(", ")} or all)`,
            );
            return 2;
          }
          const config = loadConfig({ env: process.env });
          try {
            await buildServiceImagesWithProgress(config, names.filter(isServiceName), print);
          } catch (err) {
            // debootstrap, the engine or a missing build: one line saying which.
            console.error(`aetherium image build: ${(err as Error).message}`);
            return 1;
          }
          return 0;
        }
        if (rest[0] !== "build" || (rest.length > 1 && (rest.length > 2 || rest[1] !== "--vm"))) {
          console.error("usage: aetherium image build [--vm | --service <name>|all]");
          return 2;
        }
        if (rest[1] === "--vm") await buildVm();
        else await buildImage();
        return 0;
      case "cluster":
        return await runClusterCommand(rest, process.env, print);
      case "migrate": {
        const action = rest[0] ?? "status";
        if (!isMigrateAction(action)) {
          console.error(`aetherium migrate: unknown action '${action}' (use up, down or status)`);
          return 2;
        }
        const config = loadConfig({ env: process.env });
        await runMigrate(
          config,
          action,
          createLogger({ ...config.logging, service: "migrate" }),
          print,
        );
        return 0;
      }
      case "integrations": {
        if (rest[0] !== "discord" || rest[1] !== "register" || rest.length > 2) {
          console.error("usage: aetherium integrations discord register");
          return 2;
        }
        const config = loadConfig({ env: process.env });
        print(
          `registering the /aether command with Discord at ${config.integrations.discord.apiBaseUrl}…`,
        );
        const names = await registerDiscordCommands(config);
        print(`registered: ${names.map((n) => `/${n}`).join(", ")}`);
        return 0;
      }
      case "help":
      case "--help":
      case "-h":
        print(USAGE);
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

/** `aetherium image build`: debootstrap + agent + node + mise → `docker import`, cached. */
async function buildImage(): Promise<void> {
  const config = loadConfig({ env: process.env });
  const started = Date.now();
  const image = await buildImageWithProgress(config, print);
  const cached = Object.entries(image.cached)
    .filter(([, hit]) => hit)
    .map(([layer]) => layer);
  print(
    `${image.tag} ready (${image.imageId.slice(7, 19)}) in ${((Date.now() - started) / 1000).toFixed(1)} s` +
      (cached.length ? `; reused: ${cached.join(", ")}` : ""),
  );
}

/**
 * `aetherium image build --vm`: the microVM backends' kernel (and, for Firecracker, its
 * uncompressed `vmlinux`), initramfs and root disk, cached.
 */
async function buildVm(): Promise<void> {
  const config = loadConfig({ env: process.env });
  const started = Date.now();
  const image = await buildVmImageWithProgress(config, print);
  print(
    `VM image ${image.key} ready in ${((Date.now() - started) / 1000).toFixed(1)} s: kernel ${image.kernelRelease}${image.cached ? " (reused)" : ""}`,
  );
  print(
    image.vmlinux === undefined
      ? `Firecracker cannot boot it: ${image.firecrackerUnsupported ?? "no vmlinux"}`
      : `Firecracker kernel: ${image.vmlinux}`,
  );
}
