import { BadRequestError } from "@aetherium/common";
import { describe, expect, it } from "vitest";
import {
  AGENT_PATH,
  agentInvocation,
  agentKindOf,
  agentOutputParser,
  type AgentChunk,
} from "./agent-adapters.js";

describe("agent command lines", () => {
  it("runs Claude Code in print mode with stream-json, the prompt on stdin, model and system prompt as flags", () => {
    expect(
      agentInvocation(
        "claude-code",
        { model: "claude-sonnet-4-5", systemPrompt: "workspace rules" },
        { prompt: "fix the tests", systemPrompt: "be brief" },
      ),
    ).toEqual({
      command: "claude",
      args: [
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--dangerously-skip-permissions",
        "--model",
        "claude-sonnet-4-5",
        "--append-system-prompt",
        "be brief",
      ],
      stdin: "fix the tests",
      env: { PATH: AGENT_PATH },
      output: "stream-json",
    });
    // Without a prompt-level system prompt the workspace's applies; nothing extra otherwise.
    expect(
      agentInvocation("claude-code", { systemPrompt: "workspace rules" }, { prompt: "p" }).args,
    ).toEqual([
      "-p",
      "--output-format",
      "stream-json",
      "--verbose",
      "--dangerously-skip-permissions",
      "--append-system-prompt",
      "workspace rules",
    ]);
    expect(
      agentInvocation("claude-code", { command: "/opt/claude" }, { prompt: "p" }).command,
    ).toBe("/opt/claude");
  });

  it("runs Amp in execute mode with stream-json, the system prompt leading stdin, and refuses a model", () => {
    expect(agentInvocation("amp", { systemPrompt: "rules" }, { prompt: "do it" })).toEqual({
      command: "amp",
      args: ["-x", "--stream-json", "--dangerously-allow-all"],
      stdin: "rules\n\ndo it",
      env: { PATH: AGENT_PATH },
      output: "stream-json",
    });
    expect(() => agentInvocation("amp", { model: "x" }, { prompt: "p" })).toThrow(BadRequestError);
  });

  it("runs a custom command through the shell with the prompt on stdin and in AETHER_PROMPT", () => {
    expect(
      agentInvocation(
        "custom",
        { command: "my-agent --fast", model: "m1" },
        { prompt: "hello", systemPrompt: "sys" },
      ),
    ).toEqual({
      command: "my-agent --fast",
      stdin: "hello",
      env: {
        PATH: AGENT_PATH,
        AETHER_PROMPT: "hello",
        AETHER_MCP_CONFIG: "/home/user/.config/aether/mcp.json",
        AETHER_SYSTEM_PROMPT: "sys",
        AETHER_MODEL: "m1",
      },
      output: "text",
    });
    expect(() => agentInvocation("custom", {}, { prompt: "p" })).toThrow(/needs a command/);
    expect(() =>
      agentInvocation("custom", { command: "a" }, { prompt: "x".repeat(140_000) }),
    ).toThrow(/AETHER_PROMPT would exceed 131071 bytes/);
  });

  it("reads the stored agent names, the older ampcode included", () => {
    expect(["claude-code", "amp", "ampcode", "custom", "other"].map(agentKindOf)).toEqual([
      "claude-code",
      "amp",
      "amp",
      "custom",
      undefined,
    ]);
  });
});

const feed = (format: "stream-json" | "text", pieces: string[]): AgentChunk[] => {
  const p = agentOutputParser(format);
  return [...pieces.flatMap((x) => p.push(x)), ...p.end()];
};

describe("agent output parsing", () => {
  const lines = [
    { type: "system", subtype: "init", session_id: "s", tools: ["Bash"] },
    {
      type: "assistant",
      message: {
        content: [
          { type: "text", text: "Looking at the tests." },
          { type: "tool_use", id: "t1", name: "Bash", input: { command: "npm test" } },
        ],
      },
    },
    { type: "user", message: { content: [{ type: "tool_result", content: "ok" }] } },
    { type: "assistant", message: { content: [{ type: "text", text: "All green.\n" }] } },
    { type: "result", subtype: "success", is_error: false, result: "All green." },
  ].map((l) => JSON.stringify(l));

  it("turns Claude Code's stream-json into the assistant's text, in order, across split lines", () => {
    const whole = lines.join("\n") + "\n";
    // Split in awkward places: mid-line, mid-JSON-string.
    const pieces = [
      whole.slice(0, 10),
      whole.slice(10, 200),
      whole.slice(200, 201),
      whole.slice(201),
    ];
    expect(feed("stream-json", pieces)).toEqual([
      { stream: "stdout", text: "Looking at the tests.\n" },
      { stream: "stdout", text: "All green.\n" },
    ]);
  });

  it("shows the result when no assistant text came, an error result on stderr, and non-JSON as it is", () => {
    expect(
      feed("stream-json", [JSON.stringify({ type: "result", subtype: "success", result: "done" })]),
    ).toEqual([{ stream: "stdout", text: "done\n" }]);
    expect(
      feed("stream-json", [
        `${JSON.stringify({ type: "result", subtype: "error_max_turns", is_error: true })}\n`,
        "Error: no API key\n",
      ]),
    ).toEqual([
      { stream: "stderr", text: "error_max_turns\n" },
      { stream: "stdout", text: "Error: no API key\n" },
    ]);
  });

  it("passes a custom agent's output through unchanged", () => {
    expect(feed("text", ["a", "b\n", ""])).toEqual([
      { stream: "stdout", text: "a" },
      { stream: "stdout", text: "b\n" },
    ]);
  });
});
