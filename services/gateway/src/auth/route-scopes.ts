import type { ApiKeyScope } from "@aetherium/types";

/** What a route asks of the caller: an API key holding a scope, or nothing (`public`). */
export type RouteAccess = ApiKeyScope | "public";

/**
 * The one place that says who may call what, keyed `METHOD /route/pattern` (HEAD follows GET).
 * WebSocket routes are here like any other: an exec stream runs commands, so it needs `write`
 * exactly as `POST …/execute` does. A route missing from this table is refused at registration
 * (see {@link accessForRoute}), so a new route cannot quietly default to something open.
 */
export const ROUTE_SCOPES: Readonly<Record<string, RouteAccess>> = {
  // Open: liveness, the API's own description, metrics.
  "GET /api/v1/health": "public",
  "GET /api/v1/openapi.json": "public",
  "GET /metrics": "public",

  "GET /api/v1/vms": "read",
  "GET /api/v1/vms/:id": "read",
  "POST /api/v1/vms": "write",
  "DELETE /api/v1/vms/:id": "write",
  "POST /api/v1/vms/:id/stop": "write",
  "POST /api/v1/vms/:id/start": "write",
  "POST /api/v1/vms/:id/pause": "write",
  "POST /api/v1/vms/:id/resume": "write",
  "POST /api/v1/vms/:id/timeout": "write",
  "GET /api/v1/vms/:id/metrics": "read",

  "POST /api/v1/vms/:id/execute": "write",
  "GET /api/v1/vms/:id/exec": "write", // WebSocket: runs commands
  "GET /api/v1/vms/:id/executions": "read",
  "GET /api/v1/executions/:id": "read",

  "GET /api/v1/vms/:id/files": "read",
  "GET /api/v1/vms/:id/files/list": "read",
  "PUT /api/v1/vms/:id/files": "write",
  "DELETE /api/v1/vms/:id/files": "write",

  "GET /api/v1/tasks": "read",
  "GET /api/v1/tasks/:id": "read",
  "POST /api/v1/tasks/:id/cancel": "write",

  "GET /api/v1/workers": "read",
  "GET /api/v1/workers/:id": "read",
  "POST /api/v1/workers/:id/drain": "admin",
  "POST /api/v1/workers/:id/activate": "admin",
  "GET /api/v1/cluster/stats": "read",
  "GET /api/v1/backends": "read",

  "GET /api/v1/api-keys": "admin",
  "POST /api/v1/api-keys": "admin",
  "DELETE /api/v1/api-keys/:id": "admin",

  "GET /api/v1/events": "read", // WebSocket: domain events

  // Integrations: each provider's request is authenticated by its signature (checked in
  // services/gateway/src/integrations/), not by an API key; the record of them needs `read`.
  "POST /api/v1/integrations/github/webhook": "public",
  "POST /api/v1/integrations/slack/commands": "public",
  "POST /api/v1/integrations/slack/events": "public",
  "POST /api/v1/integrations/discord/interactions": "public",
  "GET /api/v1/integrations/deliveries": "read",
  // Prompts to a workspace's agent and its sessions.
  "POST /api/v1/workspaces/:id/prompts": "write",
  "GET /api/v1/workspaces/:id/prompts": "read",
  "GET /api/v1/workspaces/:id/prompts/:promptId": "read",
  "POST /api/v1/workspaces/:id/prompts/:promptId/cancel": "write",
  "GET /api/v1/workspaces/:id/sessions": "read",
  "GET /api/v1/workspaces/:id/sessions/:sessionId": "read",
  "GET /api/v1/workspaces/:id/ws": "write", // WebSocket: sends prompts
  // Environments, workspaces and secrets. Secret values are write-only: no route returns one.
  "GET /api/v1/environments": "read",
  "GET /api/v1/environments/:id": "read",
  "POST /api/v1/environments": "write",
  "PUT /api/v1/environments/:id": "write",
  "DELETE /api/v1/environments/:id": "write",
  "POST /api/v1/workspaces": "write",
  "GET /api/v1/workspaces": "read",
  "GET /api/v1/workspaces/:id": "read",
  "DELETE /api/v1/workspaces/:id": "write",
  "POST /api/v1/workspaces/:id/secrets": "write",
  "GET /api/v1/workspaces/:id/secrets": "read",
  "DELETE /api/v1/workspaces/:id/secrets/:name": "write",
  "GET /api/v1/secrets": "read",
  "POST /api/v1/secrets": "write",
  "DELETE /api/v1/secrets/:name": "write",

  // The E2B control API: the key comes in X-API-KEY, scopes as on /api/v1.
  "POST /e2b/sandboxes": "write",
  "POST /e2b/v2/sandboxes": "write",
  "GET /e2b/sandboxes": "read",
  "GET /e2b/v2/sandboxes": "read",
  "GET /e2b/sandboxes/:sandboxID": "read",
  "DELETE /e2b/sandboxes/:sandboxID": "write",
  "POST /e2b/sandboxes/:sandboxID/timeout": "write",
  "POST /e2b/sandboxes/:sandboxID/connect": "write",
  "POST /e2b/v2/sandboxes/:sandboxID/connect": "write",
  "POST /e2b/sandboxes/:sandboxID/pause": "write",
  "GET /e2b/sandboxes/:sandboxID/metrics": "read",
  // The E2B in-sandbox API carries no API key (the SDK does not send one there): each call must
  // present its sandbox's access token, checked in services/gateway/src/e2b/sandbox-access.ts,
  // which holds only while the key that got it is valid and has `write`.
  "POST /e2b/process.Process/:method": "public",
  "POST /e2b/process.Process/StreamInput": "public",
  "POST /e2b/filesystem.Filesystem/:method": "public",
  "GET /e2b/files": "public",
  "POST /e2b/files": "public",
  "GET /e2b/health": "public",
  "GET /e2b/envs": "public",
  // The same at the root: for the wildcard-domain Host (`49983-<id>.<domain>`), and for the
  // signed file URLs the SDK builds (`/files?…&signature=`), checked by their signature.
  "POST /process.Process/:method": "public",
  "POST /process.Process/StreamInput": "public",
  "POST /filesystem.Filesystem/:method": "public",
  "GET /files": "public",
  "POST /files": "public",
  "GET /health": "public",
  "GET /envs": "public",
};

/**
 * Whole route families that plugins register and that hold no data: the API reference pages and
 * their assets (`GET /api/v1/docs…`), the dashboard's static files (`GET /*`), and CORS
 * preflights (`OPTIONS *`).
 */
function isPublicFamily(method: string, url: string): boolean {
  if (method === "OPTIONS") return url === "*";
  if (method !== "GET") return false;
  return url === "/*" || url === "/api/v1/docs" || url.startsWith("/api/v1/docs/");
}

/**
 * The access a route needs: its {@link ROUTE_SCOPES} entry, or `public` for the open plugin
 * families; undefined for a route nobody declared, which the gateway refuses to register.
 */
export function accessForRoute(method: string, url: string): RouteAccess | undefined {
  const m = method === "HEAD" ? "GET" : method;
  return ROUTE_SCOPES[`${m} ${url}`] ?? (isPublicFamily(m, url) ? "public" : undefined);
}
