import { describe, expect, it } from "vitest";
import { IllegalTransitionError } from "./state-machine.js";
import {
  VM_STATUS_TRANSITIONS,
  assertVmTransition,
  canTransitionVm,
  isServableBy,
  isTerminalVmStatus,
  servingWorker,
  vmSchema,
  vmStatusSchema,
  type VmStatus,
} from "./vm.js";

describe("sandbox status machine", () => {
  it("follows the normal lifecycle", () => {
    const path: VmStatus[] = [
      "pending",
      "creating",
      "running",
      "stopping",
      "stopped",
      "running",
      "deleting",
      "deleted",
    ];
    for (let i = 1; i < path.length; i++) {
      expect(canTransitionVm(path[i - 1]!, path[i]!)).toBe(true);
    }
  });

  it("lets a stopped sandbox start again through creating (VMs) or directly (containers)", () => {
    expect(canTransitionVm("stopped", "creating")).toBe(true);
    expect(canTransitionVm("stopped", "running")).toBe(true);
  });

  it("rejects illegal transitions with a message naming both statuses", () => {
    expect(canTransitionVm("pending", "running")).toBe(false);
    expect(canTransitionVm("running", "creating")).toBe(false);
    expect(() => assertVmTransition("deleted", "running")).toThrow(IllegalTransitionError);
    expect(() => assertVmTransition("deleted", "running")).toThrow(/deleted → running.*terminal/);
    expect(() => assertVmTransition("pending", "stopped")).toThrow(/pending → stopped/);
  });

  it("treats deleted as the only terminal status", () => {
    for (const status of vmStatusSchema.options) {
      expect(isTerminalVmStatus(status)).toBe(status === "deleted");
    }
  });

  it("lets every live status fail, get lost (once placed) or be deleted", () => {
    for (const status of ["creating", "running", "stopping", "stopped"] as const) {
      expect(canTransitionVm(status, "failed")).toBe(true);
      expect(canTransitionVm(status, "lost")).toBe(true);
      expect(canTransitionVm(status, "deleting")).toBe(true);
    }
    expect(canTransitionVm("pending", "deleting")).toBe(true);
  });

  it("lets failed and lost sandboxes be cleaned up, and lost ones be found again", () => {
    for (const status of ["failed", "lost"] as const) {
      expect(canTransitionVm(status, "deleting")).toBe(true);
      expect(canTransitionVm(status, "deleted")).toBe(true);
    }
    expect(canTransitionVm("lost", "running")).toBe(true);
    expect(canTransitionVm("failed", "running")).toBe(false);
  });

  it("never lists a self-transition and covers every status", () => {
    expect(Object.keys(VM_STATUS_TRANSITIONS).sort()).toEqual([...vmStatusSchema.options].sort());
    for (const status of vmStatusSchema.options)
      expect(canTransitionVm(status, status)).toBe(false);
  });
});

describe("vmSchema", () => {
  const vm = {
    id: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    name: "builder-1",
    status: "running",
    backend: "docker",
    image: "aetherium/base:latest",
    vcpus: 2,
    memoryMb: 1024,
    diskMb: 4096,
    workerId: "worker-1",
    labels: { team: "infra" },
    env: { API_TOKEN: "********" },
    network: { egress: { allow: ["example.com", "10.0.0.0/8"] } },
    createdAt: "2025-01-31T12:00:00.000Z",
    readyAt: "2025-01-31T12:00:01.500Z",
    expiresAt: null,
    stoppedAt: null,
    error: null,
  };

  it("accepts the shape of GET /vms/{id}", () => {
    expect(vmSchema.parse(vm)).toEqual(vm);
  });

  it("rejects an unknown status and a non-ISO time", () => {
    expect(vmSchema.safeParse({ ...vm, status: "RUNNING" }).success).toBe(false);
    expect(vmSchema.safeParse({ ...vm, createdAt: "yesterday" }).success).toBe(false);
  });
});

describe("which worker serves a sandbox", () => {
  it("is the worker a running sandbox runs on, and no worker in any other status", () => {
    for (const status of vmStatusSchema.options) {
      const serving = servingWorker({ status, workerId: "w1" });
      expect(serving, status).toBe(status === "running" ? "w1" : null);
      expect(isServableBy({ status, workerId: "w1" }, "w1"), status).toBe(status === "running");
    }
  });

  it("is nobody for a running sandbox no worker took, and never another worker", () => {
    expect(servingWorker({ status: "running", workerId: null })).toBeNull();
    expect(servingWorker({ status: "running" })).toBeNull();
    expect(isServableBy({ status: "running", workerId: "w1" }, "w2")).toBe(false);
  });
});
