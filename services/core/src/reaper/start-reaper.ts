import type { Config, Logger } from "@aetherium/common";
import { advisoryExclusive } from "../storage/advisory-lock.js";
import { Reaper, REAPER_LOCK_KEY } from "./reaper.js";
import type { ControlPlane } from "../control-plane/open-control-plane.js";

/**
 * How often a reaper sweeps: half a heartbeat, at least once a second. A dead worker is therefore
 * settled (and followers of its tasks told) within `offlineAfterMs` plus this interval.
 */
export function reaperIntervalMs(config: Config): number {
  return Math.max(1000, Math.floor(config.worker.heartbeatMs / 2));
}

/**
 * Starts the reaper of this process: gateways and workers both run one, so silent workers are
 * found out even when none is left; a PostgreSQL advisory lock lets one sweep at a time across
 * the fleet. The same sweep stops idle workspaces' sandboxes. Stop it with {@link Reaper.stop}.
 */
export function startReaper(runtime: ControlPlane, config: Config, logger: Logger): Reaper {
  const reaper = new Reaper({
    repos: runtime.repos,
    bus: runtime.bus,
    queue: runtime.queue,
    offlineAfterMs: config.worker.offlineAfterMs,
    logger,
    exclusive: advisoryExclusive(runtime.db, REAPER_LOCK_KEY),
    workspaces: runtime.workspaces,
  });
  reaper.start(reaperIntervalMs(config));
  return reaper;
}
