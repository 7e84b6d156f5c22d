import type { Logger } from "@aetherium/common";
import type { IntegrationName } from "@aetherium/types";
import type { IntegrationsConfig } from "../action-runner.js";
import type { ActionResult } from "../contract.js";
import { resultText } from "./slack-integration.js";

/** Announces a finished command or prompt an integration started. */
export type FinishedNotifier = (from: IntegrationName, result: ActionResult) => Promise<void>;

/**
 * Posts every finished command and prompt that GitHub, Slack or Discord started to the Slack
 * incoming webhook `integrations.slack.notifyWebhookUrl`; undefined when none is configured.
 * Only the gateway that started an action announces it, so a fleet of gateways posts once.
 */
export function slackNotifier(
  config: IntegrationsConfig,
  logger: Logger,
): FinishedNotifier | undefined {
  const url = config.slack.notifyWebhookUrl;
  if (!url) return undefined;
  return async (from, result) => {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify({ text: `[${from}] ${resultText(result)}` }),
        signal: AbortSignal.timeout(10_000),
      });
      await res.body?.cancel();
      if (!res.ok) logger.warn({ status: res.status }, "Slack refused a notification");
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, "Slack notification failed");
    }
  };
}
