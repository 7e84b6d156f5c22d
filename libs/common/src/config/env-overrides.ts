import type { EnvSource } from "./expand-vars.js";

/** Prefix of every environment variable that overrides configuration. */
export const ENV_PREFIX = "AETHERIUM_";

/**
 * Well-known environment variables (spec/api.md's conventions and a few conveniences) and the config key
 * each sets. Any other key is reachable with the generic form `AETHERIUM_SECTION__KEY` (see
 * {@link envOverrides}).
 */
export const ENV_ALIASES: Readonly<Record<string, readonly string[]>> = {
  AETHERIUM_HOST: ["server", "host"],
  AETHERIUM_PORT: ["server", "port"],
  AETHERIUM_HOME: ["home"],
  AETHERIUM_API_KEY: ["auth", "apiKey"],
  AETHERIUM_DATABASE_URL: ["database", "url"],
  AETHERIUM_REDIS_URL: ["redis", "url"],
  AETHERIUM_LOG_LEVEL: ["logging", "level"],
  AETHERIUM_LOG_FORMAT: ["logging", "format"],
  AETHERIUM_LOKI_URL: ["logging", "loki", "url"],
  AETHERIUM_ENCRYPTION_KEY: ["secrets", "encryptionKey"],
  AETHERIUM_WORKER_ID: ["worker", "id"],
  AETHERIUM_DASHBOARD_DIR: ["server", "dashboardDir"],
  AETHERIUM_RATE_LIMIT: ["server", "rateLimitPerMinute"],
  AETHERIUM_GITHUB_WEBHOOK_SECRET: ["integrations", "github", "webhookSecret"],
  AETHERIUM_GITHUB_TOKEN: ["integrations", "github", "token"],
  AETHERIUM_SLACK_SIGNING_SECRET: ["integrations", "slack", "signingSecret"],
  AETHERIUM_SLACK_BOT_TOKEN: ["integrations", "slack", "botToken"],
  AETHERIUM_SLACK_WEBHOOK_URL: ["integrations", "slack", "notifyWebhookUrl"],
  AETHERIUM_DISCORD_PUBLIC_KEY: ["integrations", "discord", "publicKey"],
  AETHERIUM_DISCORD_APPLICATION_ID: ["integrations", "discord", "applicationId"],
  AETHERIUM_DISCORD_BOT_TOKEN: ["integrations", "discord", "botToken"],
};

/** One value an environment variable sets. */
export interface EnvOverride {
  /** Config key path (`["worker", "capacity", "maxVms"]`). */
  path: string[];
  /** The raw string; the schema coerces it to a number, boolean or list. */
  value: string;
  /** The variable it came from, for error messages. */
  source: string;
}

/**
 * Collects overrides from `env`: first the {@link ENV_ALIASES}, then every
 * `AETHERIUM_SECTION__KEY[__KEY…]` variable, whose segments are converted from SCREAMING_SNAKE to
 * camelCase (`AETHERIUM_WORKER__CAPACITY__MAX_VMS` → `worker.capacity.maxVms`). Later entries win,
 * so the generic form beats an alias for the same key. Empty values count as unset. Other
 * `AETHERIUM_*` variables (`AETHERIUM_CONFIG`, tools' own) are ignored.
 */
export function envOverrides(env: EnvSource): EnvOverride[] {
  const out: EnvOverride[] = [];
  for (const [name, path] of Object.entries(ENV_ALIASES)) {
    const value = env[name];
    if (value !== undefined && value !== "") out.push({ path: [...path], value, source: name });
  }
  const generic = Object.keys(env)
    .filter((name) => name.startsWith(ENV_PREFIX) && name.includes("__"))
    .sort();
  for (const name of generic) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    const path = name.slice(ENV_PREFIX.length).split("__").map(snakeToCamel);
    out.push({ path, value, source: name });
  }
  return out;
}

function snakeToCamel(segment: string): string {
  return segment.toLowerCase().replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
