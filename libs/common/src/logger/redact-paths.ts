// Keys that hold credentials wherever they appear in a log object. Listed at the top level and one
// and two levels down (`*.k`, `*.*.k`), which covers `{apiKey}`, `{key: {apiKey}}` and Fastify's
// `{req: {headers: {authorization}}}`. pino's redaction wildcards match one level each, so deeper
// secrets must be logged through a serializer or not at all.
const SECRET_KEYS = [
  "authorization",
  "cookie",
  '["set-cookie"]',
  '["x-api-key"]',
  "apiKey",
  "password",
  "token",
  "accessToken",
  "refreshToken",
  "secret",
  "clientSecret",
  "privateKey",
  "encryptionKey",
  // Integrations: what verifies providers' requests and what answers them.
  "webhookSecret",
  "signingSecret",
  "botToken",
  "notifyWebhookUrl",
  "responseUrl",
  "response_url",
  "interactionToken",
] as const;

function atDepths(key: string): string[] {
  const sep = key.startsWith("[") ? "" : ".";
  return [key.startsWith("[") ? key.slice(2, -2) : key, `*${sep}${key}`, `*.*${sep}${key}`];
}

/**
 * Paths (pino `redact` syntax) whose values are replaced by `"[redacted]"` in every log line:
 * authorization/cookie/API-key headers, `apiKey`, `password`, `token`, `secret`, `encryptionKey`
 * and similar keys up to two levels deep, and every value of a sandbox's `env` map (`env.*`,
 * `vm.env.*`), which routinely carries users' credentials. Extend it with `createLogger`'s
 * `redact` option rather than logging secrets.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS.flatMap(atDepths),
  "env.*",
  "*.env.*",
  "*.*.env.*",
];

/** What redacted values are replaced with. */
export const REDACTION_CENSOR = "[redacted]";
