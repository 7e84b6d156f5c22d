import { describe, expect, it } from "vitest";
import { UsageError } from "../parse.js";
import { createBody } from "./vm.js";

describe("aether vm create flags", () => {
  it("turns --allow into an allow-list and --egress into a plain policy", () => {
    expect(createBody({ allow: ["registry.npmjs.org", "*.github.com", "10.0.0.0/8"] })).toEqual({
      network: { egress: { allow: ["registry.npmjs.org", "*.github.com", "10.0.0.0/8"] } },
    });
    expect(createBody({ egress: "deny-all" })).toEqual({ network: { egress: "deny-all" } });
    expect(createBody({ name: "x" })).toEqual({ name: "x" });
  });

  it("refuses an unknown policy, or --allow together with --egress, as usage errors", () => {
    expect(() => createBody({ egress: "some" })).toThrow(UsageError);
    expect(() => createBody({ egress: "some" })).toThrow(/allow-all or deny-all/);
    expect(() => createBody({ egress: "deny-all", allow: ["a.com"] })).toThrow(
      /leave out --egress/,
    );
  });

  it("sends --zone as the create's zone", () => {
    expect(createBody({ zone: "eu-west" })).toEqual({ zone: "eu-west" });
    expect(createBody({ tool: ["node@20", "npm:prettier"] })).toEqual({
      tools: ["node@20", "npm:prettier"],
    });
  });
});
