import {
  ForbiddenError,
  RateLimitedError,
  UnauthorizedError,
  type Logger,
} from "@aetherium/common";
import type { Repositories } from "@aetherium/core";
import { apiKeyScopeSchema, type ApiKeyScope } from "@aetherium/types";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { hashApiKey } from "./api-key-secret.js";
import type { FailedAuthLimiter } from "./failed-auth-limiter.js";
import { accessForRoute, type RouteAccess } from "./route-scopes.js";
import { allows } from "./scopes.js";

/** Who made a request: the API key it presented. */
export interface Principal {
  readonly keyId: string;
  readonly name: string;
  readonly scopes: readonly ApiKeyScope[];
}

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated key; unset on open routes. */
    principal?: Principal;
    /**
     * The id of the valid key the request presented, set even when that key lacked the scope,
     * so a refusal is recorded against the key that tried.
     */
    presentedKeyId?: string;
  }
  interface FastifyContextConfig {
    /** The access a route needs, filled in from `ROUTE_SCOPES` at registration; never by hand. */
    scope?: RouteAccess;
  }
}

/** How often one process records a key's `lastUsedAt` (the repository throttles the same way). */
const TOUCH_EVERY_MS = 60_000;

/** Subprotocol a WebSocket client offers to carry its key (browsers cannot set headers there). */
export const BEARER_SUBPROTOCOL_PREFIX = "bearer.";

/** The subprotocol the gateway answers WebSocket clients with. */
export const API_SUBPROTOCOL = "aetherium.v1";

/**
 * The key a request presents: `Authorization: Bearer <key>`, `X-API-KEY: <key>` (the header the
 * `e2b` SDKs send to the `/e2b` control API), or on a WebSocket upgrade a `bearer.<key>` entry in
 * `Sec-WebSocket-Protocol`.
 */
export function presentedKey(req: FastifyRequest): string | undefined {
  const apiKey = req.headers["x-api-key"];
  if (typeof apiKey === "string" && !req.headers.authorization) return apiKey.trim() || undefined;
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  const protocols = req.headers["sec-websocket-protocol"];
  if (typeof protocols === "string") {
    for (const p of protocols.split(",")) {
      const t = p.trim();
      if (t.startsWith(BEARER_SUBPROTOCOL_PREFIX)) return t.slice(BEARER_SUBPROTOCOL_PREFIX.length);
    }
  }
  return undefined;
}

/**
 * Gives every route the access `ROUTE_SCOPES` states for it, as routes are registered
 * (REST and WebSocket alike, plugins' routes included). A route the table does not name, or one
 * that states its own scope beside the table, is refused: the gateway does not start with a
 * route whose access nobody decided. Must be installed before any route is registered.
 */
export function installRouteScopes(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const url = route.url ?? route.path;
    const own = (route.config as { scope?: unknown } | undefined)?.scope;
    if (own !== undefined) {
      throw new Error(`route ${url} sets config.scope; declare its access in ROUTE_SCOPES only`);
    }
    const found = new Set(methods.map((m) => accessForRoute(m, url)));
    const access = [...found][0];
    if (found.size !== 1 || access === undefined) {
      throw new Error(
        `route ${methods.join(",")} ${url} has no entry in ROUTE_SCOPES (services/gateway/src/auth/route-scopes.ts); add one saying which scope it needs`,
      );
    }
    route.config = { ...(route.config ?? {}), scope: access };
  });
}

/**
 * Enforces, on every request, the access its route was given by {@link installRouteScopes}.
 * Keys are looked up by hash on each request, without a cache, so a revocation takes effect at
 * once on every gateway. Unknown routes are left to the not-found handler (a 404 says more than a
 * 401 there). An address that presented too many wrong keys is refused before any lookup.
 */
export function installAuth(
  app: FastifyInstance,
  deps: { repos: Repositories; logger: Logger; failedAuth?: FailedAuthLimiter },
): void {
  // When this process last recorded each key's use: the SQL throttles to one write a minute
  // too, but asking it on every request would still be one more round trip per request.
  const touched = new Map<string, number>();
  app.addHook("onRequest", async (req) => {
    const routeUrl = req.routeOptions.url;
    if (routeUrl === undefined) return;
    // Every registered route has one; admin is what a route that somehow lacks it gets.
    const needed = req.routeOptions.config.scope ?? "admin";
    if (needed === "public") return;
    const secret = presentedKey(req);
    if (!secret) {
      throw new UnauthorizedError(
        "an API key is required: send `Authorization: Bearer <key>` (embedded mode prints the admin key at start and keeps it in .aetherium/admin.key)",
      );
    }
    const blockedMs = (await deps.failedAuth?.blockedForMs(req.ip)) ?? 0;
    if (blockedMs > 0) {
      throw new RateLimitedError(
        Math.max(1, Math.ceil(blockedMs / 1000)),
        "too many requests with wrong API keys from this address; try again later",
      );
    }
    const row = await deps.repos.apiKeys.findByHash(hashApiKey(secret));
    if (!row) {
      await deps.failedAuth?.recordFailure(req.ip);
      throw new UnauthorizedError("the API key is not valid or has been revoked");
    }
    req.presentedKeyId = row.id;
    const scopes = apiKeyScopeSchema.array().catch([]).parse(row.scopes);
    if (!allows(scopes, needed)) {
      throw new ForbiddenError(
        `this API key has scope ${scopes.join(", ") || "none"}; ${req.method} ${routeUrl} needs ${needed}`,
      );
    }
    req.principal = { keyId: row.id, name: row.name, scopes };
    // Informational, at most once a minute per key and process, never in the request's way.
    const now = Date.now();
    if ((touched.get(row.id) ?? 0) < now - TOUCH_EVERY_MS) {
      if (touched.size > 10_000) touched.clear();
      touched.set(row.id, now);
      deps.repos.apiKeys
        .touchLastUsed(row.id)
        .catch((err: unknown) => deps.logger.warn({ err }, "could not record API key use"));
    }
  });
}
