import type { PrepStep, Task, Vm, Worker, Workspace } from "@aetherium/types";
import {
  AetheriumApiError,
  AuthError,
  BadRequestError,
  ContractError,
  NetworkError,
} from "@aetherium/sdk";
import { describe, expect, it } from "vitest";
import {
  applyStepToWorkspace,
  applyTaskToPage,
  applyVmToPage,
  applyWorkerToList,
  applyWorkspaceToPage,
  eventSubject,
  vmMatches,
} from "./reducers.js";
import { classifyStreamError } from "./stream-errors.js";

const vm = (over: Partial<Vm> = {}): Vm => ({
  id: "vm_1",
  name: "one",
  status: "pending",
  backend: "docker",
  image: "aetherium/base",
  vcpus: 1,
  memoryMb: 512,
  diskMb: 2048,
  workerId: null,
  labels: {},
  env: {},
  network: { egress: "allow-all" },
  createdAt: "2026-01-01T10:00:00.000Z",
  readyAt: null,
  expiresAt: null,
  stoppedAt: null,
  error: null,
  ...over,
});

describe("sandbox list reducer", () => {
  it("inserts a new sandbox in newest-first order and replaces it as its status moves", () => {
    const old = vm({ id: "vm_0", createdAt: "2026-01-01T09:00:00.000Z" });
    let page = applyVmToPage({ items: [old], nextCursor: null }, vm(), {});
    expect(page?.items.map((v) => v.id)).toEqual(["vm_1", "vm_0"]);
    page = applyVmToPage(page, vm({ status: "running" }), {});
    expect(page?.items[0]?.status).toBe("running");
    expect(page?.items).toHaveLength(2);
  });

  it("drops a sandbox once deleted, unless the list shows deleted ones", () => {
    const page = { items: [vm({ status: "deleting" })], nextCursor: null };
    expect(applyVmToPage(page, vm({ status: "deleted" }), {})?.items).toEqual([]);
    expect(
      applyVmToPage(page, vm({ status: "deleted" }), { includeDeleted: true })?.items,
    ).toHaveLength(1);
  });

  it("keeps a filtered list to what matches its status, labels and worker", () => {
    const f = { status: ["running"], labels: { team: "ml" }, workerId: "w1" };
    expect(vmMatches(vm({ status: "running", labels: { team: "ml" }, workerId: "w1" }), f)).toBe(
      true,
    );
    expect(vmMatches(vm({ status: "running", labels: { team: "web" }, workerId: "w1" }), f)).toBe(
      false,
    );
    const page = {
      items: [vm({ status: "running", labels: { team: "ml" }, workerId: "w1" })],
      nextCursor: null,
    };
    expect(applyVmToPage(page, vm({ status: "stopping", workerId: "w1" }), f)?.items).toEqual([]);
  });

  it("does not add an older row to a list cut short by paging, but does add a new one", () => {
    const shown = vm({ id: "vm_5", createdAt: "2026-01-01T10:00:00.000Z" });
    const page = { items: [shown], nextCursor: "c2" };
    const older = vm({ id: "vm_2", status: "running", createdAt: "2026-01-01T08:00:00.000Z" });
    expect(applyVmToPage(page, older, {})).toBe(page);
    const newer = vm({ id: "vm_9", createdAt: "2026-01-01T11:00:00.000Z" });
    expect(applyVmToPage(page, newer, {})?.items.map((v) => v.id)).toEqual(["vm_9", "vm_5"]);
    // The whole list is loaded: an older row that now matches belongs at the bottom.
    const whole = { items: [shown], nextCursor: null };
    expect(applyVmToPage(whole, older, {})?.items.map((v) => v.id)).toEqual(["vm_5", "vm_2"]);
  });

  it("leaves an unloaded list alone and ignores a non-matching newcomer", () => {
    expect(applyVmToPage(undefined, vm(), {})).toBeUndefined();
    const page = { items: [], nextCursor: null };
    expect(applyVmToPage(page, vm(), { status: ["running"] })).toBe(page);
  });
});

describe("task and worker reducers", () => {
  const task = (over: Partial<Task> = {}): Task => ({
    id: "task_1",
    type: "vm:create",
    status: "queued",
    vmId: "vm_1",
    workerId: null,
    attempts: 0,
    maxAttempts: 3,
    payload: {},
    result: null,
    error: null,
    createdAt: "2026-01-01T10:00:00.000Z",
    startedAt: null,
    completedAt: null,
    ...over,
  });
  it("moves a task out of a status-filtered list when it finishes", () => {
    const page = { items: [task()], nextCursor: null };
    expect(
      applyTaskToPage(page, task({ status: "succeeded" }), { status: ["queued", "running"] })
        ?.items,
    ).toEqual([]);
    expect(applyTaskToPage(page, task({ status: "running" }), {})?.items[0]?.status).toBe(
      "running",
    );
  });
  it("replaces a worker by id and adds a new one", () => {
    const w = { id: "w1", status: "active" } as Worker;
    const page = { items: [w], nextCursor: null };
    expect(applyWorkerToList(page, { ...w, status: "draining" })?.items[0]?.status).toBe(
      "draining",
    );
    expect(applyWorkerToList(page, { ...w, id: "w2" })?.items).toHaveLength(2);
  });
  it("reads the entity out of an event's data", () => {
    expect(eventSubject("vm.running", { vm: vm(), previousStatus: "creating" }).kind).toBe("vm");
    expect(eventSubject("task.failed", { task: task() }).kind).toBe("task");
    expect(eventSubject("workspace.ready", { workspace: { id: "ws" } })).toEqual({
      kind: "workspace",
      workspace: { id: "ws" },
      deleted: false,
    });
    expect(eventSubject("workspace.deleted", { workspace: { id: "ws" } })).toMatchObject({
      deleted: true,
    });
    expect(eventSubject("workspace.step", { workspaceId: "ws", step: { id: "s1" } })).toEqual({
      kind: "step",
      workspaceId: "ws",
      step: { id: "s1" },
    });
    expect(eventSubject("workspace.step", { step: { id: "s1" } }).kind).toBe("other");
    expect(eventSubject("vm.running", null).kind).toBe("other");
  });
});

describe("event stream errors", () => {
  it("logs out on 401, stops on other refusals, skips odd events and retries drops", () => {
    expect(classifyStreamError(new AuthError("no", "unauthorized", 401))).toBe("logout");
    expect(classifyStreamError(new AuthError("no", "forbidden", 403))).toBe("stop");
    expect(classifyStreamError(new BadRequestError("bad topic", "bad_request", 400))).toBe("stop");
    expect(classifyStreamError(new ContractError("odd event", "contract", 0))).toBe("skip");
    expect(classifyStreamError(new NetworkError("dropped", "network", 0))).toBe("retry");
    expect(classifyStreamError(new AetheriumApiError("oops", "internal", 500))).toBe("retry");
  });
});

describe("workspace reducers", () => {
  const step = (id: string, order: number, status: PrepStep["status"]): PrepStep => ({
    id,
    type: "tool",
    name: `tool ${id}`,
    order,
    status,
    exitCode: null,
    output: "",
    error: null,
    startedAt: null,
    completedAt: null,
    durationMs: null,
  });
  const ws = (over: Partial<Workspace> = {}): Workspace => ({
    id: "ws_1",
    name: "one",
    description: "",
    environmentId: null,
    vmId: null,
    status: "preparing",
    agent: { type: "custom", command: "cat" },
    workingDirectory: "/workspace",
    idleTimeoutSec: 1800,
    prepSteps: [step("a", 0, "running")],
    createdAt: "2026-01-01T10:00:00.000Z",
    readyAt: null,
    stoppedAt: null,
    idleSince: null,
    error: null,
    failedStep: null,
    ...over,
  });
  it("moves a step's status in place and adds a step it has not seen", () => {
    const moved = applyStepToWorkspace(ws(), step("a", 0, "succeeded"));
    expect(moved?.prepSteps.map((s) => s.status)).toEqual(["succeeded"]);
    const added = applyStepToWorkspace(moved, step("b", 1, "running"));
    expect(added?.prepSteps.map((s) => `${s.id}=${s.status}`)).toEqual([
      "a=succeeded",
      "b=running",
    ]);
    expect(applyStepToWorkspace(undefined, step("a", 0, "failed"))).toBeUndefined();
  });
  it("updates a workspace in the list and drops a deleted one", () => {
    const page = { items: [ws()], nextCursor: null };
    expect(applyWorkspaceToPage(page, ws({ status: "ready" }), false)?.items[0]?.status).toBe(
      "ready",
    );
    expect(applyWorkspaceToPage(page, ws(), true)?.items).toEqual([]);
  });
});
