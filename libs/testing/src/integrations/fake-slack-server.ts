import { createHmac } from "node:crypto";
import { startRecordingServer, type RecordingServer } from "./recording-server.js";

/**
 * A local stand-in for Slack, speaking its documented wire formats: slash commands'
 * `response_url` (`POST /response/{id}`, JSON message), incoming webhooks
 * (`POST /webhook/{id}`, answered `ok`), and the Web API's `POST /api/chat.postMessage`
 * (bearer bot token; `{ok: false, error: "invalid_auth"}` for a wrong one).
 */
export interface FakeSlackServer extends RecordingServer {
  /** A fresh `response_url` for one slash command. */
  responseUrl(): string;
  /** The incoming webhook URL. */
  readonly webhookUrl: string;
  /** The Web API base (`…/api`). */
  readonly apiBaseUrl: string;
}

/** Starts the fake; `botToken` is the token `chat.postMessage` accepts. */
export async function startFakeSlackServer(botToken: string): Promise<FakeSlackServer> {
  let n = 0;
  const server = await startRecordingServer([
    {
      method: "POST",
      pattern: /^\/response\/[\w-]+$/,
      answer: () => ({ status: 200, body: "ok" }),
    },
    { method: "POST", pattern: /^\/webhook\/[\w-]+$/, answer: () => ({ status: 200, body: "ok" }) },
    {
      method: "POST",
      pattern: /^\/api\/chat\.postMessage$/,
      answer: (r) =>
        r.headers.authorization === `Bearer ${botToken}`
          ? {
              status: 200,
              body: {
                ok: true,
                channel: (r.body as { channel?: string }).channel,
                ts: `${Date.now() / 1000}`,
              },
            }
          : { status: 200, body: { ok: false, error: "invalid_auth" } },
    },
  ]);
  return {
    ...server,
    responseUrl: () => `${server.url}/response/cmd-${++n}`,
    webhookUrl: `${server.url}/webhook/T000-B000`,
    apiBaseUrl: `${server.url}/api`,
  };
}

/** Signs a request as Slack does: headers `X-Slack-Signature` (v0) and `X-Slack-Request-Timestamp`. */
export function slackHeaders(
  secret: string,
  body: string,
  timestampSec = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const ts = String(timestampSec);
  const mac = createHmac("sha256", secret).update(`v0:${ts}:${body}`).digest("hex");
  return { "x-slack-signature": `v0=${mac}`, "x-slack-request-timestamp": ts };
}
