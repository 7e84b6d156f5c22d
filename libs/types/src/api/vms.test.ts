import { describe, expect, it } from "vitest";
import { formatZodError } from "../validation/format-issues.js";
import {
  createVmBodySchema,
  listVmsQuerySchema,
  setVmTimeoutBodySchema,
  waitQuerySchema,
} from "./vms.js";

function errorOf(input: unknown): string {
  const r = createVmBodySchema.safeParse(input);
  if (r.success) throw new Error("expected a validation error");
  return formatZodError(r.error);
}

describe("create-vm body", () => {
  it("accepts spec/api.md's examples", () => {
    expect(createVmBodySchema.parse({})).toEqual({});
    const body = {
      name: "agent-sandbox",
      backend: "docker",
      image: "aetherium/base:latest",
      vcpus: 2,
      memoryMb: 2048,
      diskMb: 8192,
      env: { NODE_ENV: "production" },
      labels: { team: "infra" },
      timeoutSec: 3600,
      tools: [],
      network: { egress: { allow: ["example.com", "10.0.0.0/8"] } },
    };
    expect(createVmBodySchema.parse(body)).toEqual(body);
    expect(createVmBodySchema.parse({ network: { egress: "deny-all" } })).toEqual({
      network: { egress: "deny-all" },
    });
  });

  it("rejects out-of-range resources, naming the field and the bounds", () => {
    expect(errorOf({ vcpus: 0 })).toMatch(/^vcpus: vcpus must be between 1 and 64/);
    expect(errorOf({ vcpus: 65 })).toMatch(/^vcpus: /);
    expect(errorOf({ vcpus: 1.5 })).toMatch(/vcpus must be an integer/);
    expect(errorOf({ memoryMb: 64 })).toMatch(/^memoryMb: memoryMb must be between 128 and 262144/);
    expect(errorOf({ memoryMb: 300_000 })).toMatch(/^memoryMb: /);
    expect(errorOf({ timeoutSec: 0 })).toMatch(/^timeoutSec: /);
  });

  it("rejects bad names, env names, labels, tools and backends", () => {
    expect(errorOf({ name: "has space" })).toMatch(/^name: must be 1-63/);
    expect(errorOf({ name: "" })).toMatch(/^name: /);
    expect(errorOf({ env: { "MY-VAR": "x" } })).toMatch(/^env\.MY-VAR: .*POSIX/);
    expect(errorOf({ labels: { "bad key": "x" } })).toMatch(/^labels\.bad key: label key/);
    expect(errorOf({ tools: ["node@20", "no good"] })).toMatch(/^tools\[1\]: must be a tool spec/);
    expect(errorOf({ backend: "kvm" })).toMatch(
      /^backend: must be one of "docker", "firecracker", "qemu"/,
    );
    expect(errorOf({ network: { egress: { allow: ["bad host!"] } } })).toMatch(
      /^network\.egress\.allow\[0\]: must be a domain/,
    );
  });

  it("takes tool specs and refuses a tool named twice", () => {
    expect(createVmBodySchema.parse({ tools: ["node@20", "npm:prettier"] }).tools).toEqual([
      "node@20",
      "npm:prettier",
    ]);
    expect(errorOf({ tools: ["node@20", "node@20"] })).toBe("tools: tools must not repeat");
  });

  it("rejects unknown fields such as snake_case leftovers", () => {
    expect(errorOf({ memory_mb: 512 })).toMatch(/memory_mb/);
  });
});

describe("vm list query", () => {
  it("parses repeated and comma-separated filters", () => {
    const q = listVmsQuerySchema.parse({
      status: ["running", "stopped,failed"],
      label: ["team=infra", "owner=alice@example.com"],
      workerId: "worker-1",
    });
    expect(q).toEqual({
      limit: 50,
      status: ["running", "stopped", "failed"],
      labels: { team: "infra", owner: "alice@example.com" },
      workerId: "worker-1",
    });
  });

  it("accepts a single label and rejects malformed ones", () => {
    expect(listVmsQuerySchema.parse({ label: "a=b" }).labels).toEqual({ a: "b" });
    expect(listVmsQuerySchema.safeParse({ label: "novalue" }).success).toBe(false);
    expect(listVmsQuerySchema.safeParse({ status: "bogus" }).success).toBe(false);
  });
});

describe("small bodies and queries", () => {
  it("timeout body needs a positive timeoutSec", () => {
    expect(setVmTimeoutBodySchema.parse({ timeoutSec: 600 })).toEqual({ timeoutSec: 600 });
    expect(setVmTimeoutBodySchema.safeParse({ timeoutSec: -1 }).success).toBe(false);
  });

  it("?wait=false means false", () => {
    expect(waitQuerySchema.parse({ wait: "false" }).wait).toBe(false);
    expect(waitQuerySchema.parse({ wait: "true" }).wait).toBe(true);
    expect(waitQuerySchema.parse({}).wait).toBe(false);
  });
});
