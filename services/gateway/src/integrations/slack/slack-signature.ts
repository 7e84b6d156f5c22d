import { createHmac, timingSafeEqual } from "node:crypto";

/** How far Slack's request timestamp may be from now before the request counts as a replay. */
export const SLACK_MAX_SKEW_SEC = 5 * 60;

/** Slack's v0 signature of `body` sent at `timestamp` (seconds): `v0=` + hex HMAC-SHA256. */
export function slackSignature(secret: string, timestamp: string, body: Buffer | string): string {
  const mac = createHmac("sha256", secret);
  mac.update(`v0:${timestamp}:`);
  mac.update(body);
  return `v0=${mac.digest("hex")}`;
}

/** Why a Slack request fails verification, or undefined when it passes. */
export function slackVerificationProblem(
  secret: string,
  headers: Readonly<Record<string, string | undefined>>,
  body: Buffer,
  nowSec = Math.floor(Date.now() / 1000),
): string | undefined {
  const signature = headers["x-slack-signature"];
  const timestamp = headers["x-slack-request-timestamp"];
  if (!signature || !timestamp) {
    return "missing X-Slack-Signature or X-Slack-Request-Timestamp header";
  }
  if (!/^\d{1,12}$/.test(timestamp)) return "X-Slack-Request-Timestamp is not a number of seconds";
  if (Math.abs(nowSec - Number(timestamp)) > SLACK_MAX_SKEW_SEC) {
    return "X-Slack-Request-Timestamp is more than five minutes from now (a replay or a wrong clock)";
  }
  const expected = Buffer.from(slackSignature(secret, timestamp, body));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return "X-Slack-Signature does not match the body";
  }
  return undefined;
}
