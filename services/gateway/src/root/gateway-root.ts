import type { Config, Logger } from "@aetherium/common";
import {
  openSharedControlPlane,
  startReaper,
  type Reaper,
  type ControlPlane,
} from "@aetherium/core";
import type { Registry } from "prom-client";
import type { LocalSandboxes } from "../health/probe-health.js";
import type { PromptSubmitter } from "../integrations/contract.js";
import { openGateway, type OpenGateway } from "./open-gateway.js";

/** What {@link startGatewayProcess} may change from what the config says. */
export interface GatewayRootOptions {
  readonly logger: Logger;
  /**
   * Run the reaper here (default true): with every worker down, their tasks, sandboxes and
   * executions must still end in a true state, and a gateway is then the one left to notice.
   */
  readonly reaper?: boolean;
  /** The sandboxes of a worker in this same process (`aetherium start`), for `/health`. */
  readonly local?: LocalSandboxes;
  /** Level of the per-request log lines; `info` by default. */
  readonly requestLogLevel?: "info" | "debug";
  /** More Prometheus registries served on `/metrics` (a worker in this process). */
  readonly metricsRegistries?: readonly Registry[];
  /**
   * Where the integrations' `prompt` command sends prompts; by default the control plane's
   * prompt queue.
   */
  readonly prompts?: PromptSubmitter;
}

/** A listening gateway and the reaper beside it. */
export interface GatewayProcess {
  readonly gateway: OpenGateway;
  readonly reaper: Reaper | undefined;
  /** Stops the reaper, then the HTTP server (a function: it may be passed on alone). */
  readonly close: () => Promise<void>;
}

/**
 * The gateway's composition root over an open control-plane `runtime`: the bootstrap admin key,
 * the API and dashboard on `server.host:port`, one health report, and the reaper. `aetherium
 * gateway` and `aetherium start` both start their gateway here.
 */
export async function startGatewayProcess(
  runtime: ControlPlane,
  config: Config,
  options: GatewayRootOptions,
): Promise<GatewayProcess> {
  const { logger } = options;
  const reaper = options.reaper === false ? undefined : startReaper(runtime, config, logger);
  try {
    const gateway = await openGateway(runtime, config, {
      logger,
      ...(options.requestLogLevel ? { requestLogLevel: options.requestLogLevel } : {}),
      ...(options.local ? { local: options.local } : {}),
      ...(options.metricsRegistries ? { metricsRegistries: options.metricsRegistries } : {}),
      ...(options.prompts ? { prompts: options.prompts } : {}),
    });
    return {
      gateway,
      reaper,
      close: async () => {
        await reaper?.stop();
        await gateway.close();
      },
    };
  } catch (err) {
    await reaper?.stop();
    throw err;
  }
}

/**
 * `aetherium gateway`: a stateless API gateway (run as many as you like) in front of the shared
 * PostgreSQL and Redis. Sandboxes run on `aetherium worker` hosts. Runs until SIGTERM/SIGINT.
 */
export async function runGateway(
  config: Config,
  logger: Logger,
  print: (line: string) => void,
): Promise<void> {
  const { runtime, shutdown } = await openSharedControlPlane(config, { logger, role: "gateway" });
  const { gateway, close } = await startGatewayProcess(runtime, config, { logger });
  shutdown.register("gateway", close);
  print(`gateway running at ${gateway.url}`);
  if (gateway.adminKey.created) {
    print(`admin key: ${gateway.adminKey.secret} (shown once; kept in ${gateway.adminKey.file})`);
  }
}
