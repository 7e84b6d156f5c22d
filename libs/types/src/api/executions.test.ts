import { describe, expect, it } from "vitest";
import { createApiKeyBodySchema } from "./api-keys.js";
import { execClientMessageSchema } from "./exec-ws.js";
import {
  MAX_EXEC_ARG_BYTES,
  MAX_EXEC_ARGV_ENV_BYTES,
  commandSpecSchema,
  executeBodySchema,
} from "./executions.js";
import { createVmBodySchema } from "./vms.js";

const messages = (r: { success: boolean; error?: { issues: { message: string }[] } }) =>
  (r.error?.issues ?? []).map((i) => i.message).join("; ");

describe("commands the kernel would refuse are refused up front", () => {
  it("refuses NUL in the command, an argument or an env value, REST and WebSocket alike", () => {
    const bad = [
      { command: "echo a\u0000b" },
      { command: "echo", args: ["a\u0000b"] },
      { command: "env", env: { A: "x\u0000y" } },
    ];
    for (const spec of bad) {
      const rest = executeBodySchema.safeParse(spec);
      expect(rest.success).toBe(false);
      expect(messages(rest)).toMatch(/NUL/);
      const ws = execClientMessageSchema.safeParse({ type: "start", ...spec });
      expect(ws.success).toBe(false);
      expect(messages(ws)).toMatch(/NUL/);
    }
  });

  it("counts one argument in UTF-8 bytes, leaving room for its terminating NUL", () => {
    expect(MAX_EXEC_ARG_BYTES).toBe(131_071);
    expect(executeBodySchema.safeParse({ command: "a".repeat(131_071) }).success).toBe(true);
    expect(executeBodySchema.safeParse({ command: "a".repeat(131_072) }).success).toBe(false);
    // 43 691 three-byte characters are 131 073 bytes.
    expect(executeBodySchema.safeParse({ command: "€".repeat(43_691) }).success).toBe(false);
    expect(executeBodySchema.safeParse({ command: "€".repeat(43_690) }).success).toBe(true);
    expect(commandSpecSchema.safeParse({ command: "x", args: ["😀".repeat(40_000)] }).success).toBe(
      false,
    );
  });

  it("bounds command, args and env together, on REST and the WebSocket start", () => {
    const args = Array.from({ length: 12 }, () => "b".repeat(100_000));
    const rest = executeBodySchema.safeParse({ command: "true", args });
    expect(messages(rest)).toContain(`at most ${MAX_EXEC_ARGV_ENV_BYTES} bytes`);
    const ws = execClientMessageSchema.safeParse({ type: "start", command: "true", args });
    expect(ws.success).toBe(false);
    const env = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [`V${i}`, "é".repeat(16_000)]),
    );
    expect(executeBodySchema.safeParse({ command: "env", env }).success).toBe(false);
    expect(executeBodySchema.safeParse({ command: "true", args: args.slice(0, 5) }).success).toBe(
      true,
    );
  });
});

describe("NUL is refused where text reaches the database", () => {
  it("in a sandbox env value and an API key name", () => {
    expect(createVmBodySchema.safeParse({ env: { A: "x\u0000y" } }).success).toBe(false);
    expect(createApiKeyBodySchema.safeParse({ name: "k\u0000" }).success).toBe(false);
    expect(createApiKeyBodySchema.safeParse({ name: "k" }).success).toBe(true);
  });
});
