import type { Logger } from "@aetherium/common";
import type { Repositories } from "@aetherium/core";
import type { FastifyInstance, FastifyRequest } from "fastify";

/**
 * Records one `audit_log` row for every call that changes something: mutating methods (POST,
 * PUT, PATCH, DELETE) and every route that needs `write` or `admin` whatever its method — which
 * covers exec WebSocket sessions. A row says which key (the one that tried, on a 403 too), what
 * route, which resource, the outcome (101 for a stream that was opened) and the request id.
 * Bodies and stream contents are never recorded (they carry env values, file contents and
 * secrets). Written after the response (or the upgrade), so auditing adds no latency; a failed
 * write is logged, never hidden.
 */
export function installAuditTrail(
  app: FastifyInstance,
  deps: { repos: Repositories; logger: Logger },
): void {
  const record = async (req: FastifyRequest, statusCode: number) => {
    const route = req.routeOptions.url;
    if (route === undefined || !route.startsWith("/api/v1/")) return;
    const mutating = req.method !== "GET" && req.method !== "HEAD" && req.method !== "OPTIONS";
    const scope = req.routeOptions.config.scope;
    if (!mutating && scope !== "write" && scope !== "admin") return;
    const params = (req.params ?? {}) as Record<string, unknown>;
    const resourceId = typeof params.id === "string" ? params.id : null;
    const resourceType = /^\/api\/v1\/([\w-]+)/.exec(route)?.[1] ?? null;
    await deps.repos.auditLog
      .append({
        action: `${req.method} ${route}`,
        actorKeyId: req.principal?.keyId ?? req.presentedKeyId ?? null,
        resourceType,
        resourceId,
        requestId: req.id,
        statusCode,
      })
      .catch((err: unknown) => deps.logger.error({ err, requestId: req.id }, "audit write failed"));
  };
  // An accepted WebSocket upgrade sends no Fastify reply, so no onResponse: it is recorded as
  // the session is handed to its handler. A refused one (401, 403, 429) is an ordinary reply.
  app.addHook("preHandler", (req, _reply, done) => {
    if (req.ws) void record(req, 101);
    done();
  });
  app.addHook("onResponse", async (req, reply) => {
    if (req.ws && reply.statusCode < 400) return;
    await record(req, reply.statusCode);
  });
}
