import { describe, expect, it } from "vitest";
import {
  assertTaskTransition,
  canTransitionTask,
  isTerminalTaskStatus,
  taskSchema,
} from "./task.js";

describe("task status machine", () => {
  it("allows pending → queued → running → succeeded and a retry back to queued", () => {
    expect(canTransitionTask("pending", "queued")).toBe(true);
    expect(canTransitionTask("queued", "running")).toBe(true);
    expect(canTransitionTask("running", "queued")).toBe(true);
    expect(canTransitionTask("running", "succeeded")).toBe(true);
  });

  it("never leaves a finished status", () => {
    for (const done of ["succeeded", "failed", "cancelled"] as const) {
      expect(isTerminalTaskStatus(done)).toBe(true);
      expect(() => assertTaskTransition(done, "queued")).toThrow(/terminal/);
    }
  });

  it("rejects skipping the queue", () => {
    expect(() => assertTaskTransition("pending", "running")).toThrow(/pending → running/);
  });

  it("parses a task with optional vmId/workerId absent", () => {
    const task = taskSchema.parse({
      id: "t1",
      type: "vm:create",
      status: "queued",
      attempts: 0,
      maxAttempts: 3,
      payload: { taskId: "t1", vmId: "v1" },
      result: null,
      error: null,
      createdAt: "2025-01-31T12:00:00Z",
      startedAt: null,
      completedAt: null,
    });
    expect(task.vmId).toBeUndefined();
  });
});
