import { describe, expect, it } from "vitest";
import { buildCreateEnvironmentBody, EMPTY_ENVIRONMENT_FORM } from "./environment-form.js";

describe("create-environment form", () => {
  it("turns the fields into the POST /environments body, defaults filled in", () => {
    const r = buildCreateEnvironmentBody({
      ...EMPTY_ENVIRONMENT_FORM,
      name: "web",
      agentType: "custom",
      agentCommand: "my-agent --fast",
      repoUrl: "https://example.test/r.git",
      repoBranch: "dev",
      tools: "node@20, python@3.12\nnpm:prettier",
      env: "A=1\nB=x=y",
      secrets: "TOKEN",
      setup: "npm ci\n",
      idleMin: "10",
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.body).toMatchObject({
      name: "web",
      agent: { type: "custom", command: "my-agent --fast" },
      repo: { url: "https://example.test/r.git", branch: "dev" },
      tools: ["node@20", "python@3.12", "npm:prettier"],
      env: { A: "1", B: "x=y" },
      secrets: ["TOKEN"],
      setup: [{ type: "script", run: "npm ci\n" }],
      idleTimeoutSec: 600,
      vcpus: 2,
      memoryMb: 2048,
    });
  });

  it("puts each problem next to its field", () => {
    const r = buildCreateEnvironmentBody({
      ...EMPTY_ENVIRONMENT_FORM,
      name: "",
      agentType: "custom",
      tools: "node@20 bad tool!",
      env: "NOEQUALS",
      idleMin: "0",
      vcpus: "two",
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.env).toMatch(/not KEY=value/);
    expect(r.errors.vcpus).toBe("a whole number");

    const r2 = buildCreateEnvironmentBody({
      ...EMPTY_ENVIRONMENT_FORM,
      name: "",
      agentType: "custom",
      tools: "node@20 bad!",
      idleMin: "0",
    });
    expect(r2.ok).toBe(false);
    if (r2.ok) return;
    expect(Object.keys(r2.errors).sort()).toEqual(["agentCommand", "idleMin", "name", "tools"]);
    expect(r2.errors.agentCommand).toMatch(/command is required/);
    expect(r2.errors.tools).toMatch(/^"bad!": must be a tool spec/);
    expect(r2.errors.idleMin).toBe("between 1 and 1440 minutes");
  });

  it("refuses a branch without a repository", () => {
    const r = buildCreateEnvironmentBody({
      ...EMPTY_ENVIRONMENT_FORM,
      name: "x",
      repoBranch: "main",
    });
    expect(r).toEqual({
      ok: false,
      errors: { repoUrl: "give the repository's URL, or clear branch and directory" },
    });
  });
});
