import { ForbiddenError, UnauthorizedError, type Logger } from "@aetherium/common";
import type { Repositories } from "@aetherium/core";
import { apiKeyScopeSchema, type ApiKeyScope } from "@aetherium/types";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { hashApiKey } from "./api-key-secret.js";
import { allows, defaultScopeFor } from "./scopes.js";

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
  }
  interface FastifyContextConfig {
    /** The scope a route needs; `public` for open ones. Unset: read for GET, write otherwise. */
    scope?: ApiKeyScope | "public";
  }
}

/** How often one process records a key's `lastUsedAt` (the repository throttles the same way). */
const TOUCH_EVERY_MS = 60_000;

/** Subprotocol a WebSocket client offers to carry its key (browsers cannot set headers there). */
export const BEARER_SUBPROTOCOL_PREFIX = "bearer.";

/** The subprotocol the gateway answers WebSocket clients with. */
export const API_SUBPROTOCOL = "aetherium.v1";

/**
 * The key a request presents: `Authorization: Bearer <key>`, or on a WebSocket upgrade a
 * `bearer.<key>` entry in `Sec-WebSocket-Protocol`.
 */
export function presentedKey(req: FastifyRequest): string | undefined {
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
 * Installs authentication on every `/api/v1` route that is not marked public. Keys are looked up
 * by hash on each request, without a cache, so a revocation takes effect at once on every gateway.
 * Unknown routes are left to the not-found handler (a 404 says more than a 401 there).
 */
export function installAuth(
  app: FastifyInstance,
  deps: { repos: Repositories; logger: Logger },
): void {
  // When this process last recorded each key's use: the SQL throttles to one write a minute
  // too, but asking it on every request would still be one more round trip per request.
  const touched = new Map<string, number>();
  app.addHook("onRequest", async (req) => {
    const routeUrl = req.routeOptions.url;
    if (routeUrl === undefined || !routeUrl.startsWith("/api/v1/")) return;
    // The reference page and its assets describe the API; they hold no data.
    if (routeUrl.startsWith("/api/v1/docs")) return;
    const needed = req.routeOptions.config.scope ?? defaultScopeFor(req.method);
    if (needed === "public") return;
    const secret = presentedKey(req);
    if (!secret) {
      throw new UnauthorizedError(
        "an API key is required: send `Authorization: Bearer <key>` (embedded mode prints the admin key at start and keeps it in .aetherium/admin.key)",
      );
    }
    const row = await deps.repos.apiKeys.findByHash(hashApiKey(secret));
    if (!row) throw new UnauthorizedError("the API key is not valid or has been revoked");
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
