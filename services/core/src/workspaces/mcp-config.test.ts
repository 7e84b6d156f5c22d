import type { McpServer } from "@aetherium/types";
import { describe, expect, it } from "vitest";
import { expandVars, MCP_CONFIG_FILES, mcpEntries } from "./mcp-config.js";

const servers: McpServer[] = [
  {
    name: "files",
    type: "stdio",
    command: "${BIN}/mcp-files",
    args: ["--root", "${ROOT}", "--key", "${API_KEY}"],
    env: { TOKEN: "${API_KEY}", MODE: "fast" },
  },
  {
    name: "docs",
    type: "http",
    url: "https://${HOST}/mcp",
    headers: { auth: "Bearer ${API_KEY}" },
  },
];
const env = { BIN: "/opt/bin", ROOT: "/workspace", HOST: "docs.test" };

describe("MCP config", () => {
  it("expands plain variables and leaves secrets (and unknown names) for the agent", () => {
    expect(expandVars("${ROOT}/x ${API_KEY} $ROOT ${}", env)).toBe(
      "/workspace/x ${API_KEY} $ROOT ${}",
    );
  });

  it("writes Claude Code's and the custom agent's entries with their transport type", () => {
    const entries = mcpEntries("claude-code", servers, env);
    expect(entries).toEqual({
      files: {
        type: "stdio",
        command: "/opt/bin/mcp-files",
        args: ["--root", "/workspace", "--key", "${API_KEY}"],
        env: { TOKEN: "${API_KEY}", MODE: "fast" },
      },
      docs: { type: "http", url: "https://docs.test/mcp", headers: { auth: "Bearer ${API_KEY}" } },
    });
    expect(mcpEntries("custom", servers, env)).toEqual(entries);
  });

  it("writes Amp's entries without a type, under amp.mcpServers in its settings file", () => {
    expect(mcpEntries("amp", servers, env)).toEqual({
      files: {
        command: "/opt/bin/mcp-files",
        args: ["--root", "/workspace", "--key", "${API_KEY}"],
        env: { TOKEN: "${API_KEY}", MODE: "fast" },
      },
      docs: { url: "https://docs.test/mcp", headers: { auth: "Bearer ${API_KEY}" } },
    });
    expect(MCP_CONFIG_FILES).toEqual({
      "claude-code": { path: "/home/user/.claude.json", key: "mcpServers" },
      amp: { path: "/home/user/.config/amp/settings.json", key: "amp.mcpServers" },
      custom: { path: "/home/user/.config/aether/mcp.json", key: "mcpServers" },
    });
  });
});
