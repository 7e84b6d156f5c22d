import { describe, expect, it } from "vitest";
import { loadConfig } from "./load-config.js";
import { REDACTED, redactConfig } from "./redact-config.js";

describe("redactConfig", () => {
  it("hides the API key, the encryption key and passwords inside URLs", () => {
    const config = loadConfig({
      cwd: "/tmp",
      env: {
        AETHERIUM_API_KEY: "ak_live_123",
        AETHERIUM_ENCRYPTION_KEY: "k".repeat(40),
        AETHERIUM_DATABASE_URL: "postgres://aetherium:hunter2@db:5432/aetherium",
        AETHERIUM_REDIS_URL: "redis://:redispass@cache:6379/0",
      },
    });
    const redacted = redactConfig(config);
    const text = JSON.stringify(redacted);
    expect(text).not.toContain("ak_live_123");
    expect(text).not.toContain("kkkk");
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("redispass");
    expect(redacted.auth.apiKey).toBe(REDACTED);
    expect(redacted.secrets.encryptionKey).toBe(REDACTED);
    expect(redacted.database.url).toBe("postgres://aetherium:[redacted]@db:5432/aetherium");
    expect(redacted.redis.url).toBe("redis://:[redacted]@cache:6379/0");
    // The original is untouched and the rest is still readable.
    expect(config.auth.apiKey).toBe("ak_live_123");
    expect(redacted.server.port).toBe(8080);
  });

  it("leaves unset secrets unset and URLs without passwords alone", () => {
    const redacted = redactConfig(
      loadConfig({ cwd: "/tmp", env: { AETHERIUM_DATABASE_URL: "postgres://db/aetherium" } }),
    );
    expect(redacted.auth.apiKey).toBeUndefined();
    expect(redacted.database.url).toBe("postgres://db/aetherium");
  });

  it("hides the integrations' secrets and tokens, named by their environment variables", () => {
    const env = {
      AETHERIUM_GITHUB_WEBHOOK_SECRET: "gh-hook-secret",
      AETHERIUM_GITHUB_TOKEN: "ghp_tokenvalue",
      AETHERIUM_SLACK_SIGNING_SECRET: "slack-signing",
      AETHERIUM_SLACK_BOT_TOKEN: "xoxb-bot",
      AETHERIUM_SLACK_WEBHOOK_URL: "https://hooks.slack.example/services/T0/B0/hookpart",
      AETHERIUM_DISCORD_PUBLIC_KEY: "ab".repeat(32),
      AETHERIUM_DISCORD_APPLICATION_ID: "123",
      AETHERIUM_DISCORD_BOT_TOKEN: "discord-bot",
    };
    const config = loadConfig({ cwd: "/tmp", env });
    expect(config.integrations.github.webhookSecret).toBe("gh-hook-secret");
    expect(config.integrations.discord.applicationId).toBe("123");
    const text = JSON.stringify(redactConfig(config));
    for (const name of [
      "AETHERIUM_GITHUB_WEBHOOK_SECRET",
      "AETHERIUM_GITHUB_TOKEN",
      "AETHERIUM_SLACK_SIGNING_SECRET",
      "AETHERIUM_SLACK_BOT_TOKEN",
      "AETHERIUM_SLACK_WEBHOOK_URL",
      "AETHERIUM_DISCORD_BOT_TOKEN",
    ] as const) {
      expect(text).not.toContain(env[name]);
    }
    // A public key is not a secret: it stays readable.
    expect(text).toContain("ab".repeat(32));
  });
});
