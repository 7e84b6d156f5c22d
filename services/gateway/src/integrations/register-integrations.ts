import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  UnauthorizedError,
  configSchema,
  type Logger,
} from "@aetherium/common";
import type { IntegrationDeliveryRow } from "@aetherium/core";
import {
  integrationDeliverySchema,
  listIntegrationDeliveriesQuerySchema,
  pageSchema,
  type IntegrationDelivery,
} from "@aetherium/types";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses } from "../routes/api.js";
import type { RouteDeps } from "../server/deps.js";
import { ActionRefused, ActionRunner, type IntegrationsConfig } from "./action-runner.js";
import { promptSubmitterFor } from "./prompt-submitter.js";
import type { Decision, InboundRequest, Integration, IntegrationRoute } from "./contract.js";
import { discordIntegration } from "./discord/discord-integration.js";
import { githubIntegration } from "./github/github-integration.js";
import { slackIntegration } from "./slack/slack-integration.js";
import { slackNotifier, type FinishedNotifier } from "./slack/slack-notifier.js";

const tags = ["integrations"];

/** Settings when a server is built without any: every integration off. */
const DEFAULTS: IntegrationsConfig = configSchema.parse({}).integrations;

/** What makes each integration on: the secret that verifies its requests. */
const ENABLED_BY: Record<
  Integration["name"],
  { on: (c: IntegrationsConfig) => boolean; env: string }
> = {
  github: {
    on: (c) => c.github.webhookSecret !== undefined,
    env: "AETHERIUM_GITHUB_WEBHOOK_SECRET",
  },
  slack: { on: (c) => c.slack.signingSecret !== undefined, env: "AETHERIUM_SLACK_SIGNING_SECRET" },
  discord: { on: (c) => c.discord.publicKey !== undefined, env: "AETHERIUM_DISCORD_PUBLIC_KEY" },
};

/**
 * GitHub, Slack and Discord: each provider's routes (authenticated by the provider's signature,
 * not by an API key, and parsed by nobody before the signature is checked), and
 * `GET /api/v1/integrations/deliveries`. Every request is recorded as a delivery; an action
 * starts through {@link ActionRunner}, the provider is answered at once, and the result is
 * delivered when it is ready.
 */
export async function registerIntegrations(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const config = deps.integrations ?? DEFAULTS;
  const logger = deps.logger.child({ component: "integrations" });
  const runner = new ActionRunner({
    runtime: deps.runtime,
    executions: deps.executions,
    config,
    // Prompts go to the workspaces' queue unless the root passed its own submitter.
    prompts: deps.prompts ?? promptSubmitterFor(deps.runtime.prompts),
  });
  const notify = slackNotifier(config, logger);
  const background = new Set<Promise<void>>();
  app.addHook("onClose", async () => {
    runner.close();
    await Promise.race([
      Promise.allSettled(background),
      new Promise((r) => setTimeout(r, 5000).unref()),
    ]);
  });

  const integrations = [
    githubIntegration(config, logger),
    slackIntegration(config, logger),
    discordIntegration(config, logger),
  ];
  const receiver = new DeliveryReceiver(deps, config, runner, logger, background, notify);

  await app.register((scope, _opts, done) => {
    // The signature is over the exact bytes: every body arrives whole and unparsed.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, next) => next(null, body));
    for (const integration of integrations) {
      for (const route of integration.routes) {
        scope.post(
          route.path,
          {
            bodyLimit: config.maxBodyBytes,
            schema: {
              tags,
              summary: route.summary,
              description: route.description,
              operationId: route.operationId,
              response: {
                200: z.any().describe("the provider's answer (its own format)"),
                202: z.any().describe("accepted: the result is delivered later"),
                ...errorResponses,
                413: errorResponses[400].describe(
                  "payload_too_large: over integrations.maxBodyBytes",
                ),
              },
            },
          },
          (req, reply) => receiver.receive(integration, route, req, reply),
        );
      }
    }
    done();
  });

  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    "/api/v1/integrations/deliveries",
    {
      schema: {
        tags,
        summary: "Requests from GitHub, Slack and Discord, newest first",
        description:
          "Every request an integration received, verified or not: its event, the action it asked for, the task or prompt it started and the outcome. `?integration=` narrows to one provider.",
        operationId: "listIntegrationDeliveries",
        querystring: listIntegrationDeliveriesQuerySchema,
        response: { 200: pageSchema(integrationDeliverySchema), ...errorResponses },
      },
    },
    async (req) => {
      const page = await deps.runtime.repos.integrationDeliveries.list({
        limit: req.query.limit,
        ...(req.query.cursor ? { cursor: req.query.cursor } : {}),
        ...(req.query.integration ? { integration: req.query.integration } : {}),
      });
      return { items: page.items.map(toDelivery), nextCursor: page.nextCursor };
    },
  );
}

/** Records, starts, answers and delivers: the part every provider shares. */
class DeliveryReceiver {
  constructor(
    private readonly deps: RouteDeps,
    private readonly config: IntegrationsConfig,
    private readonly runner: ActionRunner,
    private readonly logger: Logger,
    private readonly background: Set<Promise<void>>,
    private readonly notify: FinishedNotifier | undefined,
  ) {}

  async receive(
    integration: Integration,
    route: IntegrationRoute,
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    const { on, env } = ENABLED_BY[integration.name];
    if (!on(this.config)) {
      throw new NotFoundError("integration", integration.name, {
        details: { hint: `the ${integration.name} integration is off on this server; set ${env}` },
      });
    }
    const decision = await route.handle(inbound(req));
    const deliveries = this.deps.runtime.repos.integrationDeliveries;
    const base = {
      tenant: this.config.tenant,
      integration: integration.name,
      event: decision.event,
      deliveryId: decision.deliveryId ?? null,
    };
    if (decision.kind === "refuse") {
      await deliveries.record({
        ...base,
        verified: decision.verified,
        outcome: "refused",
        detail: decision.message,
        finished: true,
      });
      throw decision.status === 401
        ? new UnauthorizedError(decision.message)
        : new BadRequestError(decision.message);
    }
    if (decision.kind === "answer") {
      const row = await deliveries.record({
        ...base,
        verified: true,
        action: decision.action ?? null,
        outcome: decision.outcome,
        detail: decision.detail,
        finished: true,
      });
      refuseReplay(row);
      return reply.status(decision.reply.status).send(decision.reply.body);
    }
    if (decision.kind === "reject") {
      const row = await deliveries.record({
        ...base,
        verified: true,
        action: decision.action ?? null,
        outcome: "refused",
        detail: decision.message,
        finished: true,
      });
      refuseReplay(row);
      const answer = await decision.channel.rejected(decision.message, decision.status);
      return reply.status(answer.status).send(answer.body);
    }
    return this.#act(decision, base, reply);
  }

  async #act(
    decision: Extract<Decision, { kind: "act" }>,
    base: RecordBase,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    const deliveries = this.deps.runtime.repos.integrationDeliveries;
    const { action, channel } = decision;
    const target =
      action.kind === "run" ? action.sandbox : action.kind === "prompt" ? action.workspace : null;
    const row = await deliveries.record({
      ...base,
      verified: true,
      action: decision.actionName ?? action.kind,
      target,
      outcome: "received",
    });
    refuseReplay(row);
    if (action.kind === "ls") {
      const text = await this.runner.list();
      await deliveries.update(row.id, {
        outcome: "answered",
        detail: "listed sandboxes",
        finished: true,
      });
      const answer = await channel.answered(text);
      return reply.status(answer.status).send(answer.body);
    }
    let running: Awaited<ReturnType<ActionRunner["start"]>>;
    try {
      running = await this.runner.start(action);
    } catch (err) {
      if (!(err instanceof ActionRefused)) {
        await deliveries.update(row.id, {
          outcome: "failed",
          detail: "could not start",
          finished: true,
        });
        throw err;
      }
      await deliveries.update(row.id, { outcome: "refused", detail: err.message, finished: true });
      const answer = await channel.rejected(err.message, err.status);
      return reply.status(answer.status).send(answer.body);
    }
    const { started } = running;
    await deliveries.update(row.id, {
      taskId: started.taskId ?? null,
      promptId: started.promptId ?? null,
      outcome: "running",
      detail: started.description,
    });
    await channel.started?.(started);
    const from = base.integration;
    const work = running.result
      .then(async (result) => {
        await channel.deliver(result);
        await deliveries.update(row.id, {
          outcome: result.ok ? "succeeded" : "failed",
          detail: result.summary,
          finished: true,
        });
        await this.notify?.(from, result);
      })
      .catch((err: unknown) =>
        this.logger.error({ err, deliveryId: row.id }, "an integration's result was not delivered"),
      )
      .finally(() => this.background.delete(work));
    this.background.add(work);
    const answer = channel.accepted(started);
    return reply.status(answer.status).send(answer.body);
  }
}

/** The fields every delivery row of one request shares. */
interface RecordBase {
  readonly tenant: string;
  readonly integration: Integration["name"];
  readonly event: string;
  readonly deliveryId: string | null;
}

function refuseReplay(row: IntegrationDeliveryRow): void {
  if (row.replay) throw new ConflictError(row.detail ?? "this delivery was already received");
}

function inbound(req: FastifyRequest): InboundRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    headers[name.toLowerCase()] = Array.isArray(value) ? value[0] : value;
  }
  return { headers, body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0) };
}

function toDelivery(row: IntegrationDeliveryRow): IntegrationDelivery {
  return {
    id: row.id,
    integration: row.integration,
    event: row.event,
    deliveryId: row.deliveryId,
    verified: row.verified,
    replay: row.replay,
    action: row.action,
    target: row.target,
    taskId: row.taskId,
    promptId: row.promptId,
    outcome: row.outcome,
    detail: row.detail,
    receivedAt: row.receivedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}
