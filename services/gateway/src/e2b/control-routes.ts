import {
  NotFoundError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from "@aetherium/common";
import {
  E2B_ENVD_VERSION,
  e2bConnectBodySchema,
  e2bCreateSandboxBodySchema,
  e2bListQuerySchema,
  e2bMetricsQuerySchema,
  e2bPauseBodySchema,
  e2bSetTimeoutBodySchema,
  type E2bSandbox,
  type E2bSandboxDetail,
  type E2bSandboxMetric,
  type Vm,
} from "@aetherium/types";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { RouteDeps } from "../server/deps.js";
import { clientGone, waitForTask } from "../streams/wait-for-task.js";
import { accessTokenFor, trafficTokenFor } from "./access-token.js";
import { PRIVATE_TRAFFIC_LABEL } from "./user-ports.js";
import { ensureDefaultUser } from "./default-user.js";

/** Labels the gateway keeps on sandboxes it made for E2B callers; never shown as metadata. */
const TEMPLATE_LABEL = "e2b.template";
const RESERVED = "e2b.";
/** Lifetime of a sandbox whose create names no timeout, as E2B's API defaults it. */
const DEFAULT_TIMEOUT_SEC = 300;
/** The E2B client id every sandbox reports (Aetherium has no E2B teams). */
const CLIENT_ID = "aetherium";
/** Statuses listed as E2B's `running`: on their way up, or up. */
const LIVE = ["pending", "creating", "running"] as const;
/** Statuses the E2B API shows at all. */
const SHOWN = [...LIVE, "paused"] as const;

function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw new ValidationError(r.error, where);
  return r.data;
}

function metadataOf(vm: Vm): Record<string, string> {
  return Object.fromEntries(Object.entries(vm.labels).filter(([k]) => !k.startsWith(RESERVED)));
}

function templateOf(vm: Vm): string {
  return vm.labels[TEMPLATE_LABEL] ?? vm.image;
}

function detail(vm: Vm): E2bSandboxDetail {
  return {
    sandboxID: vm.id,
    templateID: templateOf(vm),
    clientID: CLIENT_ID,
    alias: vm.name,
    startedAt: vm.readyAt ?? vm.createdAt,
    endAt: vm.expiresAt ?? vm.createdAt,
    cpuCount: vm.vcpus,
    memoryMB: vm.memoryMb,
    diskSizeMB: vm.diskMb,
    metadata: metadataOf(vm),
    state: vm.status === "paused" ? "paused" : "running",
    envdVersion: E2B_ENVD_VERSION,
    allowInternetAccess: vm.network.egress !== "deny-all",
    domain: null,
    lifecycle: { onTimeout: vm.onTimeout === "pause" ? "pause" : "kill", autoResume: false },
  };
}

/**
 * The E2B control API under `/e2b` (E2B's `spec/openapi.yml`, the part the SDK uses): create,
 * list, get, kill, timeout, connect, for SDKs before 2.51 and the `/v2` paths from 2.51. The
 * caller's key comes in `X-API-KEY`; scopes are checked as on `/api/v1`. Errors leave as E2B's
 * `{code, message}` with the HTTP status as `code` (the scope's error handler does that).
 */
export function registerE2bControlRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { vms } = deps.runtime;
  const hidden = { schema: { hide: true } };

  /** A sandbox the E2B API shows: deleted, stopped and failed ones are gone to it. */
  const live = async (id: string): Promise<Vm> => {
    const vm = await vms.get(id);
    if (!(SHOWN as readonly string[]).includes(vm.status)) throw new NotFoundError("sandbox", id);
    return vm;
  };

  const keyOf = async (req: FastifyRequest) => {
    const keyId = req.principal?.keyId;
    const row = keyId ? await deps.runtime.repos.apiKeys.get(keyId) : undefined;
    if (!row) throw new UnauthorizedError("the API key is not valid or has been revoked");
    return row;
  };

  const answer = async (req: FastifyRequest, vm: Vm): Promise<E2bSandbox> => {
    const key = await keyOf(req);
    return {
      sandboxID: vm.id,
      templateID: templateOf(vm),
      clientID: CLIENT_ID,
      envdVersion: E2B_ENVD_VERSION,
      envdAccessToken: accessTokenFor(key.id, key.keyHash, vm.id),
      trafficAccessToken:
        vm.labels[PRIVATE_TRAFFIC_LABEL] === "private"
          ? trafficTokenFor(key.id, key.keyHash, vm.id)
          : null,
      domain: null,
      alias: vm.name,
    };
  };

  /** Waits until a sandbox task finished and the sandbox runs with its agent answering. */
  const untilRunning = async (reply: FastifyReply, taskId: string, vmId: string): Promise<Vm> => {
    const task = await waitForTask(deps.runtime, taskId, {
      timeoutMs: deps.waitTimeoutMs,
      signal: clientGone(reply.raw),
    });
    const vm = await vms.get(vmId);
    if (task.status === "succeeded" && vm.status === "running") return vm;
    throw new UnavailableError(
      task.status === "running" || task.status === "pending" || task.status === "queued"
        ? `sandbox ${vmId} did not start within ${Math.round(deps.waitTimeoutMs / 1000)} s`
        : `sandbox ${vmId} could not start: ${vm.error ?? task.error ?? "no reason recorded"}`,
    );
  };

  const create = async (req: FastifyRequest, reply: FastifyReply) => {
    const body = parse(e2bCreateSandboxBodySchema, req.body, "request body");
    const labels: Record<string, string> = {
      ...body.metadata,
      [TEMPLATE_LABEL]: body.templateID,
      ...(body.network?.allowPublicTraffic === false ? { [PRIVATE_TRAFFIC_LABEL]: "private" } : {}),
    };
    const { vm, taskId } = await vms.create({
      ...(body.templateID === "base" ? {} : { image: body.templateID }),
      labels,
      ...(body.envVars ? { env: body.envVars } : {}),
      timeoutSec: Math.max(1, body.timeout ?? DEFAULT_TIMEOUT_SEC),
      ...(body.autoPause ? { onTimeout: "pause" } : {}),
      ...(body.allow_internet_access === false ? { network: { egress: "deny-all" } } : {}),
    });
    const running = vm.status === "running" ? vm : await untilRunning(reply, taskId, vm.id);
    await ensureDefaultUser(deps.router, running.id, deps.logger);
    return reply.status(201).send(await answer(req, running));
  };
  app.post("/e2b/sandboxes", hidden, create);
  app.post("/e2b/v2/sandboxes", hidden, create);

  const list = async (req: FastifyRequest, reply: FastifyReply, paged: boolean) => {
    const q = parse(e2bListQuerySchema, req.query, "query");
    const labels: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(q.metadata ?? "")) {
      try {
        labels[decodeURIComponent(k)] = decodeURIComponent(v);
      } catch {
        labels[k] = v;
      }
    }
    const states = q.state ?? ["running", "paused"];
    const page = await vms.list({
      status: [
        ...(states.includes("running") ? LIVE : []),
        ...(states.includes("paused") ? (["paused"] as const) : []),
      ],
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      limit: paged ? q.limit : 100,
      ...(paged && q.nextToken ? { cursor: q.nextToken } : {}),
    });
    if (paged && page.nextCursor) reply.header("x-next-token", page.nextCursor);
    return reply.send(page.items.map(detail));
  };
  app.get("/e2b/sandboxes", hidden, (req, reply) => list(req, reply, false));
  app.get("/e2b/v2/sandboxes", hidden, (req, reply) => list(req, reply, true));

  app.get<{ Params: { sandboxID: string } }>("/e2b/sandboxes/:sandboxID", hidden, async (req) =>
    detail(await live(req.params.sandboxID)),
  );

  app.delete<{ Params: { sandboxID: string } }>(
    "/e2b/sandboxes/:sandboxID",
    hidden,
    async (req, reply) => {
      await live(req.params.sandboxID);
      await vms.delete(req.params.sandboxID);
      return reply.status(204).send();
    },
  );

  app.post<{ Params: { sandboxID: string } }>(
    "/e2b/sandboxes/:sandboxID/timeout",
    hidden,
    async (req, reply) => {
      const body = parse(e2bSetTimeoutBodySchema, req.body, "request body");
      await live(req.params.sandboxID);
      await vms.setTimeout(req.params.sandboxID, Math.max(1, body.timeout));
      return reply.status(204).send();
    },
  );

  const connect = async (
    req: FastifyRequest<{ Params: { sandboxID: string } }>,
    reply: FastifyReply,
  ) => {
    const body = parse(e2bConnectBodySchema, req.body, "request body");
    const vm = await live(req.params.sandboxID);
    const running =
      vm.status === "running"
        ? vm
        : vm.status === "paused"
          ? await resumed(reply, vm.id)
          : await waitUntilUp(vm.id);
    if (body.timeout !== undefined) await vms.setTimeout(vm.id, Math.max(1, body.timeout));
    await ensureDefaultUser(deps.router, running.id, deps.logger);
    return reply.status(200).send(await answer(req, running));
  };
  /** A sandbox still being created: wait (bounded) for it to run. */
  const waitUntilUp = async (id: string): Promise<Vm> => {
    const until = Date.now() + deps.waitTimeoutMs;
    for (let i = 0; i < 10_000 && Date.now() < until; i++) {
      const vm = await vms.get(id);
      if (vm.status === "running") return vm;
      if (!(LIVE as readonly string[]).includes(vm.status)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new UnavailableError(`sandbox ${id} is not running`);
  };
  /** Resumes a paused sandbox and waits (bounded) until it runs again. */
  const resumed = async (reply: FastifyReply, id: string): Promise<Vm> => {
    const task = await vms.resume(id);
    return untilRunning(reply, task.id, id);
  };
  app.post("/e2b/sandboxes/:sandboxID/connect", hidden, connect);
  app.post("/e2b/v2/sandboxes/:sandboxID/connect", hidden, connect);

  // 409 for one paused already: the SDK's pause then answers false.
  app.post<{ Params: { sandboxID: string } }>(
    "/e2b/sandboxes/:sandboxID/pause",
    hidden,
    async (req, reply) => {
      parse(e2bPauseBodySchema, req.body, "request body");
      const vm = await live(req.params.sandboxID);
      if (vm.status === "paused") {
        return reply.status(409).send({ code: 409, message: `sandbox ${vm.id} is already paused` });
      }
      const running = vm.status === "running" ? vm : await waitUntilUp(vm.id);
      const task = await vms.pause(running.id);
      const done = await waitForTask(deps.runtime, task.id, {
        timeoutMs: deps.waitTimeoutMs,
        signal: clientGone(reply.raw),
      });
      if (done.status !== "succeeded") {
        throw new UnavailableError(
          `sandbox ${vm.id} could not be paused: ${done.error ?? "it took too long"}`,
        );
      }
      return reply.status(204).send();
    },
  );
  // One sample taken now, when now is in the interval asked for: Aetherium keeps no history of
  // samples. A paused sandbox is not measured (its agent is frozen): an empty list, as E2B
  // answers for a time it has no samples of.
  app.get<{ Params: { sandboxID: string } }>(
    "/e2b/sandboxes/:sandboxID/metrics",
    hidden,
    async (req): Promise<E2bSandboxMetric[]> => {
      const q = parse(e2bMetricsQuerySchema, req.query, "query");
      const vm = await live(req.params.sandboxID);
      const now = Math.floor(Date.now() / 1000);
      if ((q.start !== undefined && q.start > now + 1) || (q.end !== undefined && q.end < now - 1))
        return [];
      if (vm.status !== "running") return [];
      const m = await deps.router.metrics(vm.id);
      return [
        {
          timestamp: m.timestamp,
          timestampUnix: Math.floor(Date.parse(m.timestamp) / 1000),
          cpuCount: m.cpuCount,
          cpuUsedPct: m.cpuUsedPct,
          memUsed: m.memUsed,
          memTotal: m.memTotal,
          memCache: m.memCache,
          diskUsed: m.diskUsed,
          diskTotal: m.diskTotal,
        },
      ];
    },
  );
}
