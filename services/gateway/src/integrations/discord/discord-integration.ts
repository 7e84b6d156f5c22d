import type { Logger } from "@aetherium/common";
import { z } from "zod";
import type { IntegrationsConfig } from "../action-runner.js";
import type {
  ActionResult,
  Decision,
  InboundRequest,
  Integration,
  IntegrationAction,
  ReplyChannel,
} from "../contract.js";
import { discordPublicKey, discordVerificationProblem } from "./discord-signature.js";

// Discord refuses message content past 2000 characters.
const MAX_CONTENT_CHARS = 2000;
// Interaction types and callback types of Discord's API.
const PING = 1;
const APPLICATION_COMMAND = 2;
const PONG = 1;
const CHANNEL_MESSAGE = 4;
const DEFERRED_CHANNEL_MESSAGE = 5;
const EPHEMERAL = 1 << 6;

type Option = { name: string; type: number; value?: unknown; options?: Option[] };
const optionSchema: z.ZodType<Option> = z.lazy(() =>
  z.object({
    name: z.string(),
    type: z.number().int(),
    value: z.unknown().optional(),
    options: z.array(optionSchema).optional(),
  }),
);

const interactionSchema = z.object({
  id: z.string().min(1),
  application_id: z.string().min(1),
  type: z.number().int(),
  token: z.string().optional(),
  data: z.object({ name: z.string(), options: z.array(optionSchema).optional() }).optional(),
});

/**
 * Discord interactions at `POST /api/v1/integrations/discord/interactions`: the Ed25519 signature
 * over `X-Signature-Timestamp` + body checked with the application's public key, `PING` answered
 * with `PONG`, and `/aether run|prompt|ls` answered with a deferred response whose original
 * message is then edited to the result through the interaction webhook.
 */
export function discordIntegration(config: IntegrationsConfig, logger: Logger): Integration {
  const discord = config.discord;
  const key = discord.publicKey ? discordPublicKey(discord.publicKey) : undefined;
  const api = discord.apiBaseUrl.replace(/\/+$/, "");

  const handle = (req: InboundRequest): Decision => {
    const event = "interaction";
    const problem = key
      ? discordVerificationProblem(key, req.headers, req.body)
      : "Discord is not configured on this server";
    if (problem) return { kind: "refuse", status: 401, message: problem, verified: false, event };
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString("utf8"));
    } catch {
      return {
        kind: "refuse",
        status: 400,
        message: "the body is not JSON",
        verified: true,
        event,
      };
    }
    const parsed = interactionSchema.safeParse(body);
    if (!parsed.success) {
      return {
        kind: "refuse",
        status: 400,
        message: "not a Discord interaction",
        verified: true,
        event,
      };
    }
    const it = parsed.data;
    if (it.type === PING) {
      return {
        kind: "answer",
        event: "ping",
        deliveryId: it.id,
        outcome: "answered",
        action: "ping",
        detail: "PONG",
        reply: { status: 200, body: { type: PONG } },
      };
    }
    if (it.type !== APPLICATION_COMMAND || !it.data || !it.token) {
      return {
        kind: "answer",
        event: `interaction_type_${it.type}`,
        deliveryId: it.id,
        outcome: "ignored",
        detail: `interactions of type ${it.type} start nothing`,
        reply: {
          status: 200,
          body: {
            type: CHANNEL_MESSAGE,
            data: { content: "Aetherium only answers /aether commands.", flags: EPHEMERAL },
          },
        },
      };
    }
    const token = it.token;
    const editOriginal = async (content: string) => {
      try {
        const res = await fetch(
          `${api}/webhooks/${encodeURIComponent(it.application_id)}/${encodeURIComponent(token)}/messages/@original`,
          {
            method: "PATCH",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ content }),
            signal: AbortSignal.timeout(10_000),
          },
        );
        await res.body?.cancel();
        if (!res.ok) logger.warn({ status: res.status }, "Discord refused a follow-up");
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, "Discord could not be reached");
      }
    };
    const message = (content: string, flags = 0) => ({
      status: 200,
      body: {
        type: CHANNEL_MESSAGE,
        data: { content: content.slice(0, MAX_CONTENT_CHARS), flags },
      },
    });
    const channel: ReplyChannel = {
      accepted: () => ({ status: 200, body: { type: DEFERRED_CHANNEL_MESSAGE } }),
      rejected: (text) => Promise.resolve(message(`:warning: ${text}`, EPHEMERAL)),
      answered: (text) => Promise.resolve(message(text)),
      deliver: (result) => editOriginal(resultContent(result)),
    };
    const action = commandAction(it.data.name, it.data.options ?? []);
    if ("error" in action) {
      return {
        kind: "reject",
        event: "application_command",
        deliveryId: it.id,
        message: action.error,
        status: 400,
        channel,
      };
    }
    return { kind: "act", event: "application_command", deliveryId: it.id, action, channel };
  };

  return {
    name: "discord",
    routes: [
      {
        path: "/api/v1/integrations/discord/interactions",
        operationId: "receiveDiscordInteraction",
        summary: "Discord interactions endpoint",
        description:
          "The application's Interactions Endpoint URL. `X-Signature-Ed25519` is verified over `X-Signature-Timestamp` + body with `AETHERIUM_DISCORD_PUBLIC_KEY`; `PING` → `PONG`; `/aether run|prompt|ls` → a deferred response, then the original message edited to the result. The interaction id makes a replay a 409.",
        handle: (req) => Promise.resolve(handle(req)),
      },
    ],
  };
}

/** `/aether <sub> …` with Discord's option tree, as an action. */
function commandAction(name: string, options: Option[]): IntegrationAction | { error: string } {
  if (name !== "aether") return { error: `unknown command /${name}` };
  const sub = options[0];
  if (!sub) return { error: "usage: /aether run|prompt|ls" };
  const value = (n: string) => {
    const v = sub.options?.find((o) => o.name === n)?.value;
    return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
  };
  switch (sub.name) {
    case "run": {
      const sandbox = value("sandbox");
      const command = value("command");
      return sandbox && command
        ? { kind: "run", sandbox, command }
        : { error: "usage: /aether run sandbox:<sandbox> command:<command>" };
    }
    case "prompt": {
      const workspace = value("workspace");
      const text = value("text");
      return workspace && text
        ? { kind: "prompt", workspace, text }
        : { error: "usage: /aether prompt workspace:<workspace> text:<text>" };
    }
    case "ls":
      return { kind: "ls" };
    default:
      return { error: `unknown subcommand "${sub.name}"; try run, prompt or ls` };
  }
}

function resultContent(result: ActionResult): string {
  const head = `${result.ok ? ":white_check_mark:" : ":x:"} ${result.summary}`;
  if (!result.output) return head.slice(0, MAX_CONTENT_CHARS);
  const room = MAX_CONTENT_CHARS - head.length - 10;
  if (room <= 0) return head.slice(0, MAX_CONTENT_CHARS);
  const output = result.output.length > room ? result.output.slice(-room) : result.output;
  return `${head}\n\`\`\`${output.replaceAll("```", "`\u200b``")}\`\`\``;
}
