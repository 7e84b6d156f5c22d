import { describe, expect, it } from "vitest";
import { taskTypeSchema } from "../domain/task.js";
import {
  InvalidJobPayloadError,
  JOB_NAMES,
  jobCatalog,
  jobTimeoutMs,
  parseJobPayload,
  type JobPayload,
} from "./catalog.js";

describe("job catalog", () => {
  it("defines exactly the task types", () => {
    expect(Object.keys(jobCatalog).sort()).toEqual([...taskTypeSchema.options].sort());
    expect([...JOB_NAMES].sort()).toEqual(Object.keys(jobCatalog).sort());
  });

  it.each(Object.entries(jobCatalog))(
    "%s has a payload schema with taskId, a timeout, retry and routing",
    (_name, def) => {
      expect(def.payload.safeParse({}).success).toBe(false);
      expect(Object.keys(def.payload.shape)).toContain("taskId");
      expect(def.timeoutMs).toBeGreaterThan(0);
      expect(def.retry.attempts).toBeGreaterThanOrEqual(1);
      expect(["exponential", "fixed"]).toContain(def.retry.backoff.type);
      expect(["shared", "owner"]).toContain(def.routing);
    },
  );

  it("sends creates to the shared queue and sandbox operations to the owner", () => {
    expect(jobCatalog["vm:create"].routing).toBe("shared");
    expect(jobCatalog["workspace:create"].routing).toBe("shared");
    for (const name of ["vm:start", "vm:stop", "vm:delete", "vm:execute"] as const) {
      expect(jobCatalog[name].routing).toBe("owner");
    }
  });

  it("never re-runs user commands or prompts", () => {
    expect(jobCatalog["vm:execute"].retry.attempts).toBe(1);
    expect(jobCatalog["prompt:execute"].retry.attempts).toBe(1);
  });
});

describe("parseJobPayload", () => {
  it("returns a typed payload", () => {
    const p: JobPayload<"vm:execute"> = parseJobPayload("vm:execute", {
      taskId: "t1",
      vmId: "v1",
      executionId: "e1",
      command: "echo hi",
    });
    expect(p.command).toBe("echo hi");
  });

  it("rejects a bad payload naming the job and the field", () => {
    expect(() => parseJobPayload("vm:delete", { taskId: "t1" })).toThrow(InvalidJobPayloadError);
    expect(() => parseJobPayload("vm:delete", { taskId: "t1" })).toThrow(/job "vm:delete": vmId: /);
    expect(() =>
      parseJobPayload("vm:execute", { taskId: "t1", vmId: "v1", executionId: "e1", command: "" }),
    ).toThrow(/job "vm:execute": command: command is required/);
  });

  it("rejects an unknown job", () => {
    expect(() => parseJobPayload("vm:explode" as "vm:create", {})).toThrow(
      /unknown job "vm:explode"/,
    );
  });
});

describe("jobTimeoutMs", () => {
  it("lets an exec with its own timeout outlive the catalog default", () => {
    const base = { taskId: "t", vmId: "v", executionId: "e", command: "sleep 7200" };
    expect(jobTimeoutMs("vm:execute", { ...base, timeoutMs: 7_200_000 })).toBe(7_230_000);
    expect(jobTimeoutMs("vm:execute", base)).toBe(jobCatalog["vm:execute"].timeoutMs);
    expect(jobTimeoutMs("vm:delete", { taskId: "t", vmId: "v" })).toBe(
      jobCatalog["vm:delete"].timeoutMs,
    );
  });
});
