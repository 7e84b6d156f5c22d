import { describe, expect, it } from "vitest";
import { egressPolicySchema, networkPolicySchema } from "./network-policy.js";
import { envVarsSchema, labelsSchema } from "./primitives.js";
import { parseToolSpec, toolSpecSchema } from "./tool-spec.js";

describe("tool specs", () => {
  it.each([
    "node@20",
    "python@3.12",
    "go",
    "node@lts",
    "npm:@anthropic-ai/claude-code@latest",
    "ubi:BurntSushi/ripgrep",
  ])("accepts %s", (spec) => expect(toolSpecSchema.safeParse(spec).success).toBe(true));

  it.each(["", "node@", "@20", "node 20", "node@20;rm -rf /", "../evil"])("rejects %j", (spec) => {
    expect(toolSpecSchema.safeParse(spec).success).toBe(false);
  });

  it("splits name and version", () => {
    expect(parseToolSpec("node@20")).toEqual({ name: "node", version: "20" });
    expect(parseToolSpec("go")).toEqual({ name: "go", version: undefined });
    expect(parseToolSpec("npm:@scope/pkg@1.2")).toEqual({ name: "npm:@scope/pkg", version: "1.2" });
    expect(parseToolSpec("npm:@scope/pkg")).toEqual({ name: "npm:@scope/pkg", version: undefined });
  });
});

describe("network policy", () => {
  it("accepts the three forms of spec/api.md", () => {
    expect(egressPolicySchema.parse("allow-all")).toBe("allow-all");
    expect(egressPolicySchema.parse("deny-all")).toBe("deny-all");
    expect(
      networkPolicySchema.parse({
        egress: { allow: ["example.com", "*.npmjs.org", "10.0.0.0/8", "::1"] },
      }),
    ).toBeTruthy();
  });

  it("rejects a malformed allow entry, naming it", () => {
    const r = networkPolicySchema.safeParse({ egress: { allow: ["example.com", "not a host"] } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/domain/);
    expect(networkPolicySchema.safeParse({ egress: { allow: ["300.1.1.1"] } }).success).toBe(false);
    expect(networkPolicySchema.safeParse({ egress: "open" }).success).toBe(false);
  });
});

describe("env and labels", () => {
  it("reports a bad env name at that key", () => {
    const r = envVarsSchema.safeParse({ GOOD: "1", "1BAD": "x" });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(["1BAD"]);
  });

  it("validates label keys and values", () => {
    expect(labelsSchema.safeParse({ team: "infra", "app.kubernetes.io/name": "x" }).success).toBe(
      true,
    );
    expect(labelsSchema.safeParse({ "-bad": "x" }).success).toBe(false);
    expect(labelsSchema.safeParse({ ok: "has space" }).success).toBe(false);
  });
});
