import type { Logger } from "@aetherium/common";
import type { DataPlaneClient, ControlPlane } from "@aetherium/core";
import type { ComponentHealth } from "@aetherium/types";
import type { Registry } from "prom-client";
import type { OpenStreams } from "../auth/open-streams.js";
import type { DataPlaneRouter } from "../data-plane/data-plane-router.js";
import type { ExecutionService } from "../execution/execution-service.js";
import type { IntegrationsConfig } from "../integrations/action-runner.js";
import type { PromptSubmitter } from "../integrations/contract.js";

/** `GET /api/v1/health` body (`healthResponseSchema` in `@aetherium/types`). */
export interface HealthReport {
  readonly status: "ok" | "degraded";
  readonly version: string;
  readonly components: Record<string, ComponentHealth>;
}

/** Requests per window per API key (or per client address before authentication). */
export interface RateLimitOptions {
  readonly max: number;
  readonly timeWindowMs: number;
  /** Shares the counters across gateways; in-memory per process without it. */
  readonly redisUrl?: string;
  readonly keyPrefix?: string;
  /** Longest a count may wait for Redis before it is made in-process (capped at 1 s). */
  readonly redisCommandTimeoutMs?: number;
  readonly redisConnectTimeoutMs?: number;
}

/** Wrong API keys one client address may present per window before it gets 429s. */
export interface FailedAuthLimitOptions {
  /** Failures allowed per window; 0 turns the limit off. */
  readonly max: number;
  readonly windowMs: number;
  /** Shares the counts across gateways; in-memory per process without it. */
  readonly redisUrl?: string;
  readonly keyPrefix?: string;
}

/** What the HTTP server needs from the rest of the process. */
export interface ServerDeps {
  readonly logger: Logger;
  /**
   * Level of the one-line-per-request logs ("incoming request", "request completed"): `info` by
   * default; `aetherium start` uses `debug` so its terminal keeps the banner and the admin key in
   * view (`AETHERIUM_LOG_LEVEL=debug` shows them again).
   */
  readonly requestLogLevel?: "info" | "debug";
  readonly runtime: Pick<
    ControlPlane,
    | "repos"
    | "vms"
    | "tasks"
    | "workers"
    | "bus"
    | "queue"
    | "prompts"
    | "environments"
    | "secrets"
    | "workspaces"
  >;
  readonly dataPlane: DataPlaneClient;
  readonly health: () => Promise<HealthReport>;
  /** Largest accepted JSON body. File uploads stream and have their own limit. */
  readonly bodyLimitBytes?: number;
  /** Largest file a `PUT /vms/{id}/files` may upload. */
  readonly maxUploadBytes?: number;
  /** Origins allowed to call the API from a browser; empty means same-origin only. */
  readonly corsOrigins?: readonly string[];
  /** Off when unset or `max` is 0. */
  readonly rateLimit?: RateLimitOptions;
  /** Off when unset or `max` is 0. */
  readonly failedAuthLimit?: FailedAuthLimitOptions;
  /** The dashboard's static build, served at `/` when present. */
  readonly dashboardDir?: string;
  /** Registries whose metrics `/metrics` also serves (the embedded worker's, say). */
  readonly metricsRegistries?: readonly Registry[];
  /** Longest a `?wait=true` request waits before answering with the state so far. */
  readonly waitTimeoutMs?: number;
  /** Longest a prompt's `?wait=true` waits (default: an hour, as long as a prompt may run). */
  readonly promptWaitTimeoutMs?: number;
  /** How often open streams re-check their key (a revocation on another gateway). */
  readonly streamRecheckMs?: number;
  /** GitHub, Slack and Discord (`integrations.*` of the config); all off when unset. */
  readonly integrations?: IntegrationsConfig;
  /** Prompts to workspaces' agents, where this server has workspaces. */
  readonly prompts?: PromptSubmitter;
}

/** What every route module receives. */
export type RouteDeps = ServerDeps & {
  readonly waitTimeoutMs: number;
  /** Reaches the worker that serves a sandbox (one per server, with its memory of owners). */
  readonly router: DataPlaneRouter;
  /** Commands in sandboxes, run now or queued. */
  readonly executions: ExecutionService;
  /** Open WebSocket streams by key, closed when their key is revoked. */
  readonly streams: OpenStreams;
};
