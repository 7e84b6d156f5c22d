import type { Logger } from "@aetherium/common";
import type { Repositories } from "@aetherium/core";
import type { FastifyInstance } from "fastify";

/**
 * Records one `audit_log` row for every mutating API call (POST, PUT, PATCH, DELETE and exec
 * streams): which key, what route, which resource, the outcome and the request id. Bodies are
 * never recorded (they carry env values, file contents and secrets). Written after the response
 * is sent, so auditing adds no latency; a failed write is logged, never hidden.
 */
export function installAuditTrail(
  app: FastifyInstance,
  deps: { repos: Repositories; logger: Logger },
): void {
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url;
    if (route === undefined || !route.startsWith("/api/v1/")) return;
    const mutating = req.method !== "GET" && req.method !== "HEAD" && req.method !== "OPTIONS";
    const stream = req.method === "GET" && route.endsWith("/exec");
    if (!mutating && !stream) return;
    const params = (req.params ?? {}) as Record<string, unknown>;
    const resourceId = typeof params.id === "string" ? params.id : null;
    const resourceType = /^\/api\/v1\/([\w-]+)/.exec(route)?.[1] ?? null;
    await deps.repos.auditLog
      .append({
        action: `${req.method} ${route}`,
        actorKeyId: req.principal?.keyId ?? null,
        resourceType,
        resourceId,
        requestId: req.id,
        statusCode: reply.statusCode,
      })
      .catch((err: unknown) => deps.logger.error({ err, requestId: req.id }, "audit write failed"));
  });
}
