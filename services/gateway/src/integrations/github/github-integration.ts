import { Webhooks } from "@octokit/webhooks";
import { Octokit } from "@octokit/rest";
import type { Logger } from "@aetherium/common";
import { z } from "zod";
import type { IntegrationsConfig } from "../action-runner.js";
import type {
  ActionResult,
  Decision,
  InboundRequest,
  Integration,
  ProviderReply,
  ReplyChannel,
} from "../contract.js";

// GitHub refuses comments longer than 65536 characters.
const MAX_COMMENT_CHARS = 65_000;

const repositorySchema = z.object({
  full_name: z.string(),
  name: z.string(),
  owner: z.object({ login: z.string() }),
});

const issueCommentSchema = z.object({
  action: z.string(),
  issue: z.object({ number: z.number().int() }),
  comment: z.object({ body: z.string().nullable() }),
  repository: repositorySchema,
});

const reviewCommentSchema = z.object({
  action: z.string(),
  pull_request: z.object({ number: z.number().int() }),
  comment: z.object({ id: z.number().int(), body: z.string().nullable() }),
  repository: repositorySchema,
});

const pullRequestSchema = z.object({
  action: z.string(),
  pull_request: z.object({ number: z.number().int(), head: z.object({ sha: z.string() }) }),
  repository: repositorySchema,
});

type Repository = z.infer<typeof repositorySchema>;

/**
 * GitHub webhooks at `POST /api/v1/integrations/github/webhook`: `X-Hub-Signature-256` checked
 * with `@octokit/webhooks` (HMAC-SHA256, constant time), `ping` answered, `/aether run <command>`
 * and `/aether <prompt>` in issue and review comments started and answered with a comment, and a
 * repository's check command run on pull requests and reported as a commit status.
 */
export function githubIntegration(config: IntegrationsConfig, logger: Logger): Integration {
  const gh = config.github;
  // Only its verification is used: routing events is this module's own switch.
  const webhooks = gh.webhookSecret ? new Webhooks({ secret: gh.webhookSecret }) : undefined;
  const octokit = new Octokit({
    ...(gh.token ? { auth: gh.token } : {}),
    baseUrl: gh.apiBaseUrl.replace(/\/+$/, ""),
    // Octokit's own console output would bypass the redacting logger.
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
  const report = (what: string) => (err: unknown) =>
    logger.warn({ err: { message: (err as Error)?.message } }, `GitHub: could not ${what}`);

  const commentChannel = (
    repo: Repository,
    post: (body: string) => Promise<unknown>,
  ): ReplyChannel => {
    const comment = (body: string) => post(body).catch(report(`comment on ${repo.full_name}`));
    return {
      accepted: (started) => ({
        status: 202,
        body: {
          accepted: true,
          description: started.description,
          taskId: started.taskId ?? null,
          promptId: started.promptId ?? null,
        },
      }),
      rejected: async (message, status) => {
        await comment(`:warning: ${message}`);
        return envelope(status, message);
      },
      answered: async (text) => {
        await comment(text);
        return { status: 200, body: { answered: true } };
      },
      deliver: async (result) => void (await comment(resultComment(result))),
    };
  };

  const handle = async (req: InboundRequest): Promise<Decision> => {
    const event = req.headers["x-github-event"] ?? "unknown";
    const deliveryId = req.headers["x-github-delivery"];
    const signature = req.headers["x-hub-signature-256"];
    if (!signature) {
      return refuse(401, "missing X-Hub-Signature-256 header", false, event, deliveryId);
    }
    const payload = req.body.toString("utf8");
    const valid =
      webhooks !== undefined &&
      payload.length > 0 &&
      (await webhooks.verify(payload, signature).catch(() => false));
    if (!valid) {
      return refuse(401, "X-Hub-Signature-256 does not match the body", false, event, deliveryId);
    }
    if (!deliveryId) return refuse(400, "missing X-GitHub-Delivery header", true, event);
    let body: unknown;
    try {
      body = JSON.parse(payload);
    } catch {
      return refuse(
        400,
        "the body is not JSON (set the webhook's content type to application/json)",
        true,
        event,
        deliveryId,
      );
    }
    const ignore = (detail: string): Decision => ({
      kind: "answer",
      event,
      deliveryId,
      outcome: "ignored",
      detail,
      reply: { status: 200, body: { ignored: true, reason: detail } },
    });

    if (event === "ping") {
      return {
        kind: "answer",
        event,
        deliveryId,
        outcome: "answered",
        action: "ping",
        detail: "pong",
        reply: { status: 200, body: { pong: true } },
      };
    }
    if (event === "issue_comment" || event === "pull_request_review_comment") {
      const parsed =
        event === "issue_comment"
          ? issueCommentSchema.safeParse(body)
          : reviewCommentSchema.safeParse(body);
      if (!parsed.success) return refuse(400, `not a ${event} payload`, true, event, deliveryId);
      const p = parsed.data;
      if (p.action !== "created") return ignore(`${event}.${p.action} starts nothing`);
      const text = commandText(p.comment.body ?? "", gh.command);
      if (text === undefined) return ignore(`the comment does not start with ${gh.command}`);
      const repo = p.repository;
      const where = { owner: repo.owner.login, repo: repo.name };
      const channel =
        "issue" in p
          ? commentChannel(repo, (b) =>
              octokit.rest.issues.createComment({
                ...where,
                issue_number: p.issue.number,
                body: b,
              }),
            )
          : commentChannel(repo, (b) =>
              octokit.rest.pulls.createReplyForReviewComment({
                ...where,
                pull_number: p.pull_request.number,
                comment_id: p.comment.id,
                body: b,
              }),
            );
      const run = /^run(\s+|$)/i.exec(text);
      if (run) {
        const command = text.slice(run[0].length).trim();
        const sandbox = gh.sandboxes[repo.full_name];
        const problem = !command
          ? `usage: ${gh.command} run <command>`
          : !sandbox
            ? `no sandbox is configured for ${repo.full_name} (integrations.github.sandboxes)`
            : undefined;
        if (problem) return usage(event, deliveryId, "run", problem, channel);
        return {
          kind: "act",
          event,
          deliveryId,
          action: { kind: "run", sandbox: sandbox!, command },
          channel,
        };
      }
      if (text === "") {
        return usage(
          event,
          deliveryId,
          undefined,
          `usage: ${gh.command} run <command>, or ${gh.command} <prompt>`,
          channel,
        );
      }
      const workspace = gh.workspaces[repo.full_name];
      if (!workspace) {
        return usage(
          event,
          deliveryId,
          "prompt",
          `no workspace is configured for ${repo.full_name} (integrations.github.workspaces)`,
          channel,
        );
      }
      return {
        kind: "act",
        event,
        deliveryId,
        action: { kind: "prompt", workspace, text },
        channel,
      };
    }
    if (event === "pull_request") {
      const parsed = pullRequestSchema.safeParse(body);
      if (!parsed.success)
        return refuse(400, "not a pull_request payload", true, event, deliveryId);
      const p = parsed.data;
      if (p.action !== "opened" && p.action !== "synchronize" && p.action !== "reopened") {
        return ignore(`pull_request.${p.action} starts nothing`);
      }
      const repo = p.repository;
      const command = gh.checks[repo.full_name];
      const sandbox = gh.sandboxes[repo.full_name];
      if (!command) return ignore(`no check command is configured for ${repo.full_name}`);
      const where = {
        owner: repo.owner.login,
        repo: repo.name,
        sha: p.pull_request.head.sha,
        context: "aetherium",
      };
      const status = (state: "pending" | "success" | "failure" | "error", description: string) =>
        octokit.rest.repos
          .createCommitStatus({ ...where, state, description: description.slice(0, 140) })
          .catch(report(`set a commit status on ${repo.full_name}`));
      const channel: ReplyChannel = {
        accepted: (started) => ({
          status: 202,
          body: {
            accepted: true,
            description: started.description,
            taskId: started.taskId ?? null,
            promptId: null,
          },
        }),
        rejected: async (message, code) => {
          await status("error", message);
          return envelope(code, message);
        },
        answered: () => Promise.resolve({ status: 200, body: { answered: true } }),
        started: async (started) => void (await status("pending", started.description)),
        deliver: async (result) =>
          void (await status(result.ok ? "success" : "failure", result.summary)),
      };
      if (!sandbox) {
        return usage(
          event,
          deliveryId,
          "check",
          `no sandbox is configured for ${repo.full_name} (integrations.github.sandboxes)`,
          channel,
        );
      }
      return {
        kind: "act",
        event,
        deliveryId,
        actionName: "check",
        action: { kind: "run", sandbox, command },
        channel,
      };
    }
    return ignore(`${event} events start nothing`);
  };

  return {
    name: "github",
    routes: [
      {
        path: "/api/v1/integrations/github/webhook",
        operationId: "receiveGithubWebhook",
        summary: "GitHub webhook",
        description:
          "Give GitHub this URL with content type `application/json` and the secret of `AETHERIUM_GITHUB_WEBHOOK_SECRET`. `X-Hub-Signature-256` is verified over the raw body; `X-GitHub-Delivery` makes deliveries idempotent (a replay gets 409). `ping` → 200; a comment starting with `/aether run <command>` or `/aether <prompt>` → 202 and a reply comment with the result; `pull_request` opened/synchronize runs the repository's check command and sets commit status `aetherium`.",
        handle,
      },
    ],
  };
}

/** The text after `command` at the start of a comment; undefined when it does not start so. */
function commandText(body: string, command: string): string | undefined {
  const first = body.trimStart();
  if (!first.startsWith(command)) return undefined;
  const rest = first.slice(command.length);
  if (rest !== "" && !/^\s/.test(rest)) return undefined;
  return rest.trim();
}

function resultComment(result: ActionResult): string {
  const icon = result.ok ? ":white_check_mark:" : ":x:";
  const head = `${icon} ${result.summary}`;
  if (!result.output) return head;
  const fence = "```";
  const room = MAX_COMMENT_CHARS - head.length - 20;
  const output = result.output.length > room ? result.output.slice(-room) : result.output;
  return `${head}\n\n${fence}\n${output.replaceAll(fence, "`\u200b``")}\n${fence}`;
}

function refuse(
  status: 400 | 401,
  message: string,
  verified: boolean,
  event: string,
  deliveryId?: string,
): Decision {
  return {
    kind: "refuse",
    status,
    message,
    verified,
    event,
    ...(deliveryId ? { deliveryId } : {}),
  };
}

function usage(
  event: string,
  deliveryId: string,
  action: string | undefined,
  message: string,
  channel: ReplyChannel,
): Decision {
  return {
    kind: "reject",
    event,
    deliveryId,
    ...(action ? { action } : {}),
    message,
    status: 400,
    channel,
  };
}

function envelope(status: number, message: string): ProviderReply {
  const code = status === 404 ? "not_found" : status === 503 ? "unavailable" : "bad_request";
  return { status, body: { error: { code, message } } };
}
