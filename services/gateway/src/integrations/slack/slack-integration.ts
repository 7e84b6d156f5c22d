import type { Logger } from "@aetherium/common";
import { z } from "zod";
import type { IntegrationsConfig } from "../action-runner.js";
import {
  parseCommandText,
  type ActionResult,
  type Decision,
  type InboundRequest,
  type Integration,
  type ReplyChannel,
} from "../contract.js";
import { slackVerificationProblem } from "./slack-signature.js";

// Slack cuts messages past 40,000 characters.
const MAX_MESSAGE_CHARS = 35_000;

const slashCommandSchema = z.object({
  command: z.string(),
  text: z.string().default(""),
  response_url: z.url(),
  trigger_id: z.string().min(1),
});

const eventsSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("url_verification"), challenge: z.string() }),
  z.object({
    type: z.literal("event_callback"),
    event_id: z.string().min(1),
    event: z.object({
      type: z.string(),
      text: z.string().default(""),
      channel: z.string().optional(),
      ts: z.string().optional(),
      thread_ts: z.string().optional(),
    }),
  }),
]);

/**
 * Slack at `POST /api/v1/integrations/slack/commands` (the `/aether` slash command) and
 * `POST /api/v1/integrations/slack/events` (app mentions): `X-Slack-Signature` v0 over the raw
 * body, `X-Slack-Request-Timestamp` within five minutes. Answered at once; the result goes to the
 * command's `response_url`, or to the mention's thread through `chat.postMessage`.
 */
export function slackIntegration(config: IntegrationsConfig, logger: Logger): Integration {
  const slack = config.slack;
  const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8", ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) logger.warn({ status: res.status }, "Slack refused a message");
      await res.body?.cancel();
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, "Slack could not be reached");
    }
  };
  const verify = (req: InboundRequest) =>
    slack.signingSecret === undefined
      ? "Slack is not configured on this server"
      : slackVerificationProblem(slack.signingSecret, req.headers, req.body);

  const commands = (req: InboundRequest): Decision => {
    const event = "slash_command";
    const problem = verify(req);
    if (problem) return { kind: "refuse", status: 401, message: problem, verified: false, event };
    const form = Object.fromEntries(new URLSearchParams(req.body.toString("utf8")));
    const parsed = slashCommandSchema.safeParse(form);
    if (!parsed.success) {
      return {
        kind: "refuse",
        status: 400,
        message: "not a Slack slash command payload",
        verified: true,
        event,
      };
    }
    const { text, response_url: responseUrl, trigger_id: deliveryId } = parsed.data;
    const ephemeral = (t: string) => ({
      status: 200,
      body: { response_type: "ephemeral", text: t },
    });
    const channel: ReplyChannel = {
      accepted: (started) => ({
        status: 200,
        body: { response_type: "in_channel", text: `${started.description}…` },
      }),
      rejected: (message) => Promise.resolve(ephemeral(`:warning: ${message}`)),
      answered: (t) => Promise.resolve(ephemeral(t)),
      deliver: (result) =>
        post(responseUrl, {
          response_type: "in_channel",
          replace_original: false,
          text: resultText(result),
        }),
    };
    return decide(event, deliveryId, text, channel);
  };

  const events = (req: InboundRequest): Decision => {
    const problem = verify(req);
    if (problem)
      return { kind: "refuse", status: 401, message: problem, verified: false, event: "event" };
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString("utf8"));
    } catch {
      return {
        kind: "refuse",
        status: 400,
        message: "the body is not JSON",
        verified: true,
        event: "event",
      };
    }
    const parsed = eventsSchema.safeParse(body);
    if (!parsed.success) {
      return {
        kind: "refuse",
        status: 400,
        message: "not a Slack Events API payload",
        verified: true,
        event: "event",
      };
    }
    const p = parsed.data;
    if (p.type === "url_verification") {
      return {
        kind: "answer",
        event: "url_verification",
        outcome: "answered",
        detail: "URL verified",
        reply: { status: 200, body: { challenge: p.challenge } },
      };
    }
    const ev = p.event;
    const event = ev.type;
    if (ev.type !== "app_mention" || !ev.channel) {
      return {
        kind: "answer",
        event,
        deliveryId: p.event_id,
        outcome: "ignored",
        detail: `${ev.type} events start nothing`,
        reply: { status: 200, body: { ok: true } },
      };
    }
    const say = async (text: string) => {
      if (!slack.botToken) {
        logger.warn("Slack: an app mention cannot be answered without integrations.slack.botToken");
        return;
      }
      await post(
        `${slack.apiBaseUrl.replace(/\/+$/, "")}/chat.postMessage`,
        { channel: ev.channel, thread_ts: ev.thread_ts ?? ev.ts, text },
        { authorization: `Bearer ${slack.botToken}` },
      );
    };
    const ok = { status: 200, body: { ok: true } };
    const channel: ReplyChannel = {
      accepted: () => ok,
      rejected: async (message) => {
        await say(`:warning: ${message}`);
        return ok;
      },
      answered: async (t) => {
        await say(t);
        return ok;
      },
      started: async (started) => say(`${started.description}…`),
      deliver: (result) => say(resultText(result)),
    };
    // The mention itself (`<@U123>`) comes first; what follows is the command.
    return decide(event, p.event_id, ev.text.replace(/^\s*<@[^>]+>\s*/, ""), channel);
  };

  return {
    name: "slack",
    routes: [
      {
        path: "/api/v1/integrations/slack/commands",
        operationId: "receiveSlackCommand",
        summary: "Slack slash command",
        description:
          "The Request URL of the `/aether` slash command. Verified with `X-Slack-Signature` (v0, the signing secret of `AETHERIUM_SLACK_SIGNING_SECRET`) and `X-Slack-Request-Timestamp` (within five minutes). `run <sandbox> <command>`, `prompt <workspace> <text>`, `ls`; answered within three seconds, the result posted to `response_url`. `trigger_id` makes a replay a 409.",
        handle: (req) => Promise.resolve(commands(req)),
      },
      {
        path: "/api/v1/integrations/slack/events",
        operationId: "receiveSlackEvent",
        summary: "Slack Events API",
        description:
          "The Events API Request URL: `url_verification` answered with its challenge; `app_mention` events carrying `run`, `prompt` or `ls` start like the slash command and are answered in the thread with `chat.postMessage` (needs `AETHERIUM_SLACK_BOT_TOKEN`). `event_id` makes Slack's retries a 409.",
        handle: (req) => Promise.resolve(events(req)),
      },
    ],
  };
}

function decide(event: string, deliveryId: string, text: string, channel: ReplyChannel): Decision {
  const action = parseCommandText(text);
  if ("error" in action) {
    return { kind: "reject", event, deliveryId, message: action.error, status: 400, channel };
  }
  return { kind: "act", event, deliveryId, action, channel };
}

/** A result as Slack mrkdwn: the summary, then the output in a code block. */
export function resultText(result: ActionResult): string {
  const head = `${result.ok ? ":white_check_mark:" : ":x:"} ${result.summary}`;
  if (!result.output) return head;
  const room = MAX_MESSAGE_CHARS - head.length - 10;
  const output = result.output.length > room ? result.output.slice(-room) : result.output;
  return `${head}\n\`\`\`${output.replaceAll("```", "`\u200b``")}\`\`\``;
}
