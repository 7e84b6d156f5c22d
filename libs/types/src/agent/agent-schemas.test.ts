import { describe, expect, it } from "vitest";
import {
  AGENT_CLIENT_NOTIFICATIONS,
  AGENT_METHOD_SCHEMAS,
  AGENT_METHODS,
  AGENT_NOTIFICATION_SCHEMAS,
  AGENT_NOTIFICATIONS,
  agentInfoResultSchema,
  execAttachParamsSchema,
  execStartParamsSchema,
  fsReadParamsSchema,
  fsWriteParamsSchema,
  MAX_WRITE_CHUNK_BYTES,
} from "./index.js";

describe("agent protocol schemas", () => {
  it("has params and result schemas for every method and every notification", () => {
    expect(Object.keys(AGENT_METHOD_SCHEMAS).sort()).toEqual(Object.values(AGENT_METHODS).sort());
    expect(Object.keys(AGENT_NOTIFICATION_SCHEMAS).sort()).toEqual(
      [...Object.values(AGENT_NOTIFICATIONS), ...Object.values(AGENT_CLIENT_NOTIFICATIONS)].sort(),
    );
  });

  it("takes exactly one of command or shell, and args only with command", () => {
    expect(execStartParamsSchema.safeParse({ command: "ls", args: ["-l"] }).success).toBe(true);
    expect(execStartParamsSchema.safeParse({ shell: "ls | wc" }).success).toBe(true);
    expect(execStartParamsSchema.safeParse({}).success).toBe(false);
    expect(execStartParamsSchema.safeParse({ command: "ls", shell: "ls" }).success).toBe(false);
    expect(execStartParamsSchema.safeParse({ shell: "ls", args: ["x"] }).success).toBe(false);
  });

  it("has no default timeout and accepts a user by name or uid", () => {
    const p = execStartParamsSchema.parse({ command: "sleep", args: ["45"], user: 1000 });
    expect(p.timeoutMs).toBeUndefined();
    expect(execStartParamsSchema.safeParse({ command: "id", user: "dev" }).success).toBe(true);
    expect(execStartParamsSchema.safeParse({ command: "id", timeoutMs: 0 }).success).toBe(false);
  });

  it("refuses relative paths and NUL", () => {
    expect(fsReadParamsSchema.safeParse({ path: "/etc/hosts" }).success).toBe(true);
    expect(fsReadParamsSchema.safeParse({ path: "etc/hosts" }).success).toBe(false);
    expect(fsReadParamsSchema.safeParse({ path: "/etc/\0" }).success).toBe(false);
  });

  it("bounds one write chunk", () => {
    const big = Buffer.alloc(MAX_WRITE_CHUNK_BYTES + 3).toString("base64");
    expect(fsWriteParamsSchema.safeParse({ path: "/x", data: big }).success).toBe(false);
    const ok = Buffer.alloc(MAX_WRITE_CHUNK_BYTES).toString("base64");
    expect(fsWriteParamsSchema.safeParse({ path: "/x", data: ok }).success).toBe(true);
  });

  it("takes an output encoding on exec.start and exec.attach, base64 or binary", () => {
    for (const outputEncoding of ["base64", "binary"]) {
      expect(execStartParamsSchema.safeParse({ command: "ls", outputEncoding }).success).toBe(true);
      expect(execAttachParamsSchema.safeParse({ processId: "p1", outputEncoding }).success).toBe(
        true,
      );
    }
    expect(execStartParamsSchema.safeParse({ command: "ls", outputEncoding: "hex" }).success).toBe(
      false,
    );
  });

  it("reports how the agent started, and still reads agents that do not say", () => {
    const info = {
      version: "0.1.0",
      protocolVersion: 1,
      pid: 7,
      uptimeMs: 1,
      startedAt: "2026-01-01T00:00:00.000Z",
      nodeVersion: "20.0.0",
      hostname: "h",
      uid: 0,
      reaper: "init",
    };
    expect(agentInfoResultSchema.parse(info).startup).toBeUndefined();
    expect(agentInfoResultSchema.parse({ ...info, startup: "snapshot" }).startup).toBe("snapshot");
    expect(agentInfoResultSchema.safeParse({ ...info, startup: "warm" }).success).toBe(false);
  });
});
