import { describe, expect, it } from "vitest";
import {
  AGENT_CLIENT_NOTIFICATIONS,
  AGENT_METHOD_SCHEMAS,
  AGENT_METHODS,
  AGENT_NOTIFICATION_SCHEMAS,
  AGENT_NOTIFICATIONS,
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
});
