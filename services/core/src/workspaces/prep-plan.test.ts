import type { Environment } from "@aetherium/types";
import { describe, expect, it } from "vitest";
import { planSteps } from "./prep-plan.js";

describe("planSteps", () => {
  it("orders clone, each tool, each setup step, then the MCP config", () => {
    const spec = {
      repo: { url: "https://example.test/r.git" },
      tools: ["node@20", "npm:prettier"],
      setup: [
        { type: "script", run: "make" },
        { type: "env", name: "A", value: "1" },
      ],
      mcpServers: [{ name: "m", type: "stdio", command: "m" }],
    } as unknown as Environment;
    expect(planSteps(spec).map((s) => [s.type, s.name])).toEqual([
      ["clone", "clone"],
      ["tool", "tool node@20"],
      ["tool", "tool npm:prettier"],
      ["script", "setup 1"],
      ["env", "setup 2"],
      ["mcp", "mcp"],
    ]);
  });

  it("plans nothing for an environment with nothing to prepare", () => {
    const spec = { repo: null, tools: [], setup: [], mcpServers: [] } as unknown as Environment;
    expect(planSteps(spec)).toEqual([]);
  });
});
