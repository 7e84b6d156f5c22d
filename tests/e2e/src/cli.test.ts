import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startFakeDiscordServer, useTestDatabase } from "@aetherium/testing";
import { describe, expect, it } from "vitest";
import { AETHERIUM_MAIN } from "./start-aetherium.js";

const run = promisify(execFile);
const db = useTestDatabase();

async function aetherium(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [AETHERIUM_MAIN, ...args], {
      env: { ...process.env, NO_COLOR: "1", AETHERIUM_LOG_LEVEL: "warn", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("aetherium CLI", () => {
  it("migrates a PostgreSQL database up, reports status, and steps down", async () => {
    const env = { AETHERIUM_DATABASE_URL: db.current.url };
    const up = await aetherium(["migrate", "up"], env);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/applied initial/);
    expect((await aetherium(["migrate", "up"], env)).stdout).toMatch(/nothing to apply/);
    const down = await aetherium(["migrate", "down"], env);
    expect(down.stdout).toMatch(/reverted vm_pause/);
    const status = await aetherium(["migrate", "status"], env);
    expect(status.stdout).toMatch(/applied\s+initial/);
    expect(status.stdout).toMatch(/pending\s+vm_pause/);
  });

  it("registers the /aether slash command with Discord, and says what to set without a token", async () => {
    const discord = await startFakeDiscordServer("bot-token-e2e");
    try {
      const env = {
        AETHERIUM_DISCORD_APPLICATION_ID: "323456789012345678",
        AETHERIUM_DISCORD_BOT_TOKEN: "bot-token-e2e",
        AETHERIUM_INTEGRATIONS__DISCORD__API_BASE_URL: discord.apiBaseUrl,
      };
      const ok = await aetherium(["integrations", "discord", "register"], env);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/registered: \/aether/);
      expect(discord.requests[0]?.path).toBe("/api/v10/applications/323456789012345678/commands");
      const none = await aetherium(["integrations", "discord", "register"], {
        AETHERIUM_INTEGRATIONS__DISCORD__API_BASE_URL: discord.apiBaseUrl,
      });
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(
        /AETHERIUM_DISCORD_APPLICATION_ID and AETHERIUM_DISCORD_BOT_TOKEN/,
      );
      expect(discord.requests).toHaveLength(1);
    } finally {
      await discord.close();
    }
  });

  it("refuses to run a separate worker without shared state, saying what to set", async () => {
    const r = await aetherium(["worker"], { AETHERIUM_DATABASE_URL: "", AETHERIUM_REDIS_URL: "" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/AETHERIUM_DATABASE_URL and AETHERIUM_REDIS_URL/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace for a user's mistake
  });

  it("names a bad configuration value and where it came from", async () => {
    const r = await aetherium(["start"], { AETHERIUM_PORT: "not-a-port" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/server\.port/);
    expect(r.stderr).toMatch(/AETHERIUM_PORT/);
  });

  it("explains an unknown command", async () => {
    const r = await aetherium(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(r.stderr).toMatch(/usage: aetherium/);
  });
});
