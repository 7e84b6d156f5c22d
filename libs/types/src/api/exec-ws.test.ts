import { describe, expect, it } from "vitest";
import {
  execClientMessageSchema,
  execServerMessageSchema,
  type ExecClientMessage,
  type ExecServerMessage,
} from "./exec-ws.js";
import { executeBodySchema, executeQuerySchema } from "./executions.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("exec WebSocket messages", () => {
  const client: ExecClientMessage[] = [
    {
      type: "start",
      command: "bash",
      args: ["-l"],
      env: { TERM: "xterm" },
      cwd: "/workspace",
      pty: { cols: 80, rows: 24 },
    },
    { type: "stdin", data: b64("ls\n") },
    { type: "signal", signal: "SIGINT" },
    { type: "resize", cols: 120, rows: 40 },
    { type: "closeStdin" },
  ];
  const server: ExecServerMessage[] = [
    { type: "started", executionId: "e1" },
    { type: "stdout", data: b64("hello\n") },
    { type: "stderr", data: Buffer.from([0xff, 0x00, 0xc3]).toString("base64") },
    { type: "exit", exitCode: 3 },
    { type: "error", code: "not_found", message: "sandbox gone" },
  ];

  it("round-trip through JSON unchanged", () => {
    for (const m of client)
      expect(execClientMessageSchema.parse(JSON.parse(JSON.stringify(m)))).toEqual(m);
    for (const m of server)
      expect(execServerMessageSchema.parse(JSON.parse(JSON.stringify(m)))).toEqual(m);
  });

  it("carry raw bytes intact as base64", () => {
    const msg = execServerMessageSchema.parse({
      type: "stderr",
      data: Buffer.from([0xff, 0x00, 0xc3]).toString("base64"),
    });
    expect(msg.type === "stderr" && [...Buffer.from(msg.data, "base64")]).toEqual([
      0xff, 0x00, 0xc3,
    ]);
  });

  it("reject unknown types and bad payloads", () => {
    expect(execClientMessageSchema.safeParse({ type: "kill" }).success).toBe(false);
    expect(execClientMessageSchema.safeParse({ type: "stdin", data: "not base64!" }).success).toBe(
      false,
    );
    expect(execClientMessageSchema.safeParse({ type: "signal", signal: "SIGSEGV" }).success).toBe(
      false,
    );
    expect(execClientMessageSchema.safeParse({ type: "start" }).success).toBe(false);
    expect(execServerMessageSchema.safeParse({ type: "exit" }).success).toBe(false);
  });
});

describe("execute body", () => {
  it("accepts the documented fields and long timeouts", () => {
    const body = {
      command: "npm",
      args: ["test"],
      env: { CI: "1" },
      cwd: "/app",
      user: "aether",
      stdin: "",
      timeoutMs: 3_600_000,
    };
    expect(executeBodySchema.parse(body)).toEqual(body);
  });

  it("requires a command and an absolute cwd", () => {
    expect(executeBodySchema.safeParse({}).error?.issues[0]?.path).toEqual(["command"]);
    expect(
      executeBodySchema.safeParse({ command: "ls", cwd: "rel" }).error?.issues[0]?.path,
    ).toEqual(["cwd"]);
  });

  it("parses ?async=", () => {
    expect(executeQuerySchema.parse({ async: "true" }).async).toBe(true);
    expect(executeQuerySchema.parse({}).async).toBe(false);
  });
});
