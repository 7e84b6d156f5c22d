import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../errors/index.js";
import { loadConfig } from "./load-config.js";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "aetherium-config-"));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeYaml(text: string, name = "aetherium.yaml"): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function loadError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("gives a working embedded config with no file and no env", () => {
    const config = loadConfig({ env: {}, cwd: dir });
    expect(config.server).toEqual({
      host: "127.0.0.1",
      port: 8080,
      corsOrigins: [],
      rateLimitPerMinute: 6000,
      authFailureLimit: 20,
      authFailureWindowSec: 60,
      bodyLimitMb: 10,
      maxUploadMb: 1024,
      waitTimeoutSec: 120,
      healthTimeoutMs: 2000,
    });
    // Every dependency call is bounded out of the box.
    expect(config.database).toMatchObject({ connectTimeoutMs: 5000, statementTimeoutMs: 15_000 });
    expect(config.redis).toMatchObject({ connectTimeoutMs: 3000, commandTimeoutMs: 3000 });
    expect(config.home).toBe(path.join(dir, ".aetherium"));
    expect(config.database.url).toBeUndefined();
    expect(config.redis.url).toBeUndefined();
    expect(config.logging.format).toBe("auto");
    expect(config.worker.capacity.maxVms).toBe(50);
  });

  it("reads the YAML file and lets AETHERIUM_* variables override it", () => {
    const file = writeYaml(`
server:
  host: 0.0.0.0
  port: 9000
queue:
  concurrency: 3
worker:
  zone: eu-1
`);
    const config = loadConfig({
      file,
      cwd: dir,
      env: {
        AETHERIUM_PORT: "9100",
        AETHERIUM_DATABASE_URL: "postgres://db.internal/aetherium",
        AETHERIUM_QUEUE__CONCURRENCY: "7",
        AETHERIUM_WORKER__CAPACITY__MAX_VMS: "12",
        AETHERIUM_LOGGING__LOKI__BATCHING__ENABLED: "false",
        AETHERIUM_SERVER__CORS_ORIGINS: "https://a.example, https://b.example",
      },
    });
    expect(config.server.host).toBe("0.0.0.0"); // from the file
    expect(config.server.port).toBe(9100); // env beats file
    expect(config.queue.concurrency).toBe(7); // generic SECTION__KEY, coerced to a number
    expect(config.worker.zone).toBe("eu-1");
    expect(config.worker.capacity.maxVms).toBe(12);
    expect(config.logging.loki.batching.enabled).toBe(false);
    expect(config.server.corsOrigins).toEqual(["https://a.example", "https://b.example"]);
    expect(config.database.url).toBe("postgres://db.internal/aetherium");
  });

  it("finds the file through AETHERIUM_CONFIG, relative to cwd", () => {
    writeYaml("server:\n  port: 7000\n", "custom.yaml");
    const config = loadConfig({ cwd: dir, env: { AETHERIUM_CONFIG: "custom.yaml" } });
    expect(config.server.port).toBe(7000);
  });

  it("expands ${VAR} and ${VAR:-default} in string values", () => {
    const file = writeYaml(`
server:
  port: \${PORT:-8181}
database:
  url: postgres://\${DB_USER}:\${DB_PASS}@\${DB_HOST:-localhost}/aetherium
redis:
  keyPrefix: "$\${literal}"
`);
    const config = loadConfig({ file, cwd: dir, env: { DB_USER: "app", DB_PASS: "s3cret" } });
    expect(config.server.port).toBe(8181);
    expect(config.database.url).toBe("postgres://app:s3cret@localhost/aetherium");
    expect(config.redis.keyPrefix).toBe("${literal}");

    const withPort = loadConfig({
      file,
      cwd: dir,
      env: { PORT: "9001", DB_USER: "a", DB_PASS: "b" },
    });
    expect(withPort.server.port).toBe(9001);
  });

  it("names the key and the file when a ${VAR} has no value", () => {
    const file = writeYaml("database:\n  url: ${DATABASE_URL}\n");
    const err = loadError(() => loadConfig({ file, cwd: dir, env: {} }));
    expect(err.message).toContain("database.url");
    expect(err.message).toContain("DATABASE_URL is not set");
    expect(err.message).toContain(file);
    expect(err.file).toBe(file);
  });

  it("names the bad key, the file and what was expected for a wrong type", () => {
    const file = writeYaml("server:\n  port: eighty\nworker:\n  heartbeatMs: 1000\n");
    const err = loadError(() => loadConfig({ file, cwd: dir, env: {} }));
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/server\.port: expected an integer \(got "eighty"\)/);
    expect(err.problems.map((p) => p.path)).toEqual(["server.port"]);
  });

  it("says which environment variable a bad value came from", () => {
    const err = loadError(() =>
      loadConfig({ cwd: dir, env: { AETHERIUM_PORT: "99999", AETHERIUM_LOG_LEVEL: "loud" } }),
    );
    expect(err.message).toMatch(/server\.port: expected an integer <= 65535.*AETHERIUM_PORT/);
    expect(err.message).toMatch(/logging\.level: .*AETHERIUM_LOG_LEVEL/);
  });

  it("rejects unknown keys instead of ignoring them", () => {
    const file = writeYaml("vmm:\n  provider: docker\nserver:\n  mode: development\n");
    const err = loadError(() => loadConfig({ file, cwd: dir, env: {} }));
    expect(err.problems.map((p) => p.path).sort()).toEqual(["server.mode", "vmm"]);
    expect(err.message).toContain("unknown key");
  });

  it("never prints secret values in errors", () => {
    const err = loadError(() =>
      loadConfig({ cwd: dir, env: { AETHERIUM_ENCRYPTION_KEY: "short-but-secret" } }),
    );
    expect(err.message).toContain("secrets.encryptionKey");
    expect(err.message).not.toContain("short-but-secret");
  });

  it("reports a missing file and malformed YAML with the file name", () => {
    const missing = path.join(dir, "nope.yaml");
    expect(loadError(() => loadConfig({ file: missing, env: {} })).message).toContain(
      `${missing})`,
    );
    const bad = writeYaml("server: [unclosed\n");
    const err = loadError(() => loadConfig({ file: bad, env: {} }));
    expect(err.message).toContain("invalid YAML");
    expect(err.message).toContain(bad);
  });

  it("checks cross-field rules", () => {
    const err = loadError(() =>
      loadConfig({
        cwd: dir,
        env: {
          AETHERIUM_WORKER__HEARTBEAT_MS: "10000",
          AETHERIUM_WORKER__OFFLINE_AFTER_MS: "15000",
        },
      }),
    );
    expect(err.message).toContain("worker.offlineAfterMs");
  });

  it("does not read process.env when given an env", () => {
    process.env.AETHERIUM_PORT = "1234";
    try {
      expect(loadConfig({ env: {}, cwd: dir }).server.port).toBe(8080);
    } finally {
      delete process.env.AETHERIUM_PORT;
    }
  });
});
