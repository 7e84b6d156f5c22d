import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { useTestDatabase } from "@aetherium/testing";
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
    expect(down.stdout).toMatch(/reverted environment_spec/);
    const status = await aetherium(["migrate", "status"], env);
    expect(status.stdout).toMatch(/applied\s+initial/);
    expect(status.stdout).toMatch(/pending\s+environment_spec/);
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
