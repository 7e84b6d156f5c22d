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
});
