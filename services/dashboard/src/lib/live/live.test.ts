import type { Task, Vm, Worker } from "@aetherium/types";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { backoffDelay } from "./backoff.js";
import { EventStream, parseStreamMessage, type SocketLike } from "./event-stream.js";
import {
  applyTaskToPage,
  applyVmToPage,
  applyWorkerToList,
  eventSubject,
  vmMatches,
} from "./reducers.js";

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
      kind: "other",
      entity: "workspace",
    });
    expect(eventSubject("vm.running", null).kind).toBe("other");
  });
});

describe("reconnect backoff", () => {
  it("doubles from 500 ms up to 15 s, with jitter between half and all of it", () => {
    const mid = (n: number) => backoffDelay(n, { random: () => 0.5 });
    expect([0, 1, 2, 3].map(mid)).toEqual([375, 750, 1500, 3000]);
    expect(backoffDelay(20, { random: () => 0.999999 })).toBe(15_000);
    expect(backoffDelay(20, { random: () => 0 })).toBe(7_500);
    expect(backoffDelay(0, { random: () => 0 })).toBeGreaterThan(0);
  });
});

class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  closed: number | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.all.push(this);
  }
  close(code = 1000) {
    this.closed = code;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code, reason: "" });
  }
}

describe("event stream", () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  const make = (over: Partial<ConstructorParameters<typeof EventStream>[0]> = {}) => {
    const events: string[] = [];
    const states: string[] = [];
    const stream = new EventStream({
      url: "ws://h/api/v1/events",
      protocols: ["aetherium.v1", "bearer.k"],
      createSocket: (u, p) => new FakeSocket(u, p),
      onEvent: (e) => events.push(e.type),
      onState: (s) => states.push(s),
      backoff: { random: () => 0.5 },
      ...over,
    });
    return { stream, events, states };
  };

  it("delivers events, and after a drop reconnects with backoff and asks for a resync", () => {
    const onResync = vi.fn();
    const { stream, events, states } = make({ onResync });
    stream.start();
    expect(FakeSocket.all[0]?.protocols).toEqual(["aetherium.v1", "bearer.k"]);
    FakeSocket.all[0]!.open();
    FakeSocket.all[0]!.onmessage?.({
      data: JSON.stringify({ type: "vm.running", at: "2026-01-01T00:00:00Z", data: {} }),
    });
    FakeSocket.all[0]!.onmessage?.({ data: "not json" });
    expect(events).toEqual(["vm.running"]);
    FakeSocket.all[0]!.drop();
    expect(stream.state).toBe("connecting");
    vi.advanceTimersByTime(374);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1]!.open();
    expect(onResync).toHaveBeenCalledTimes(1);
    expect(states).toEqual(["connecting", "open", "connecting", "connecting", "open"]);
  });

  it("waits longer after each failed attempt and resets once connected", () => {
    const { stream } = make();
    stream.start();
    FakeSocket.all[0]!.drop();
    vi.advanceTimersByTime(375);
    FakeSocket.all[1]!.drop();
    vi.advanceTimersByTime(749);
    expect(FakeSocket.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(3);
    FakeSocket.all[2]!.open();
    FakeSocket.all[2]!.drop();
    vi.advanceTimersByTime(375);
    expect(FakeSocket.all).toHaveLength(4);
  });

  it("gives up and reports when the key is refused", () => {
    const onUnauthorized = vi.fn();
    const { stream } = make({ onUnauthorized });
    stream.start();
    FakeSocket.all[0]!.drop(4401);
    vi.advanceTimersByTime(60_000);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(FakeSocket.all).toHaveLength(1);
    expect(stream.state).toBe("closed");
  });

  it("stops for good on stop(): no reconnect", () => {
    const { stream } = make();
    stream.start();
    FakeSocket.all[0]!.open();
    stream.stop();
    expect(FakeSocket.all[0]!.closed).toBe(1000);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("parses only well-formed event envelopes", () => {
    expect(parseStreamMessage('{"type":"a.b","at":"x","data":1}')).toEqual({
      type: "a.b",
      at: "x",
      data: 1,
    });
    expect(parseStreamMessage('{"type":1}')).toBeNull();
    expect(parseStreamMessage(new Uint8Array())).toBeNull();
  });
});
