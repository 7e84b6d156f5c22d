import type { Logger } from "@aetherium/common";
import type { IntegrationName } from "@aetherium/types";
import type { IntegrationsConfig } from "../action-runner.js";
import type { ActionResult } from "../contract.js";
import { resultText } from "./slack-integration.js";

/** Announces a finished command or prompt an integration started. */
export type FinishedNotifier = (from: IntegrationName, result: ActionResult) => Promise<void>;

/**
 * Posts every finished command and prompt that GitHub, Slack or Discord started to the Slack
 * incoming webhook `integrations.slack.notifyWebhookUrl` and to the channel
 * `integrations.slack.notifyChannel` (through `chat.postMessage` with the bot token); undefined
 * when neither is configured. Only the gateway that started an action announces it, so a fleet of
 * gateways posts once.
 */
export function slackNotifier(
  config: IntegrationsConfig,
  logger: Logger,
): FinishedNotifier | undefined {
  const { notifyWebhookUrl, notifyChannel, botToken, apiBaseUrl } = config.slack;
  const targets: {
    url: string;
    body: (text: string) => unknown;
    headers: Record<string, string>;
  }[] = [];
  if (notifyWebhookUrl) {
    targets.push({ url: notifyWebhookUrl, body: (text) => ({ text }), headers: {} });
  }
  if (notifyChannel && botToken) {
    targets.push({
      url: `${apiBaseUrl.replace(/\/+$/, "")}/chat.postMessage`,
      body: (text) => ({ channel: notifyChannel, text }),
      headers: { authorization: `Bearer ${botToken}` },
    });
  } else if (notifyChannel) {
    logger.warn(
      "integrations.slack.notifyChannel needs integrations.slack.botToken; not notifying it",
    );
  }
  if (targets.length === 0) return undefined;
  return async (from, result) => {
    const text = `[${from}] ${resultText(result)}`;
    for (const target of targets) {
      try {
        const res = await fetch(target.url, {
          method: "POST",
          headers: { "content-type": "application/json; charset=utf-8", ...target.headers },
          body: JSON.stringify(target.body(text)),
          signal: AbortSignal.timeout(10_000),
        });
        await res.body?.cancel();
        if (!res.ok) logger.warn({ status: res.status }, "Slack refused a notification");
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, "Slack notification failed");
      }
    }
  };
}
