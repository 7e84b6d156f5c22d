import { describe, expect, it } from "vitest";
import { vmStatusSchema } from "../domain/vm.js";
import { workspaceStatusSchema } from "../domain/workspace.js";
import {
  EVENT_TYPES,
  eventCatalog,
  vmEventTypeForStatus,
  workspaceEventTypeForStatus,
} from "./catalog.js";
import { createEvent, parseEvent } from "./envelope.js";
import { eventsQuerySchema, matchesAnyTopic, matchesTopic } from "./topics.js";
import type { Worker } from "../domain/worker.js";

const worker: Worker = {
  id: "worker-1",
  hostname: "host-a",
  address: "10.0.0.5:8081",
  status: "active",
  backends: ["docker"],
  capacity: { vcpus: 16, memoryMb: 65536, maxVms: 50 },
  used: { vcpus: 2, memoryMb: 2048, vms: 1 },
  labels: {},
  zone: "default",
  lastSeenAt: "2025-01-31T12:00:00.000Z",
  healthy: true,
};

describe("matchesTopic", () => {
  it.each([
    ["vm.running", "vm.running", true],
    ["vm.running", "vm.stopped", false],
    ["vm.running", "vm.*", true],
    ["vmx.running", "vm.*", false],
    ["task.failed", "vm.*", false],
    ["vm", "vm.*", false],
    ["worker.joined", "*", true],
    ["vm.running", "vm", false],
  ])("%s against %s → %s", (type, pattern, expected) => {
    expect(matchesTopic(type, pattern)).toBe(expected);
  });

  it("matches any of several patterns, and everything with none", () => {
    expect(matchesAnyTopic("task.failed", ["vm.*", "task.failed"])).toBe(true);
    expect(matchesAnyTopic("task.started", ["vm.*", "task.failed"])).toBe(false);
    expect(matchesAnyTopic("task.started", [])).toBe(true);
  });

  it("parses ?topics=", () => {
    expect(eventsQuerySchema.parse({ topics: "vm.*, task.failed" }).topics).toEqual([
      "vm.*",
      "task.failed",
    ]);
    expect(eventsQuerySchema.parse({}).topics).toEqual([]);
    expect(eventsQuerySchema.safeParse({ topics: "vm.**" }).success).toBe(false);
  });
});

describe("event catalog", () => {
  it("has an event for every sandbox and workspace status", () => {
    for (const s of vmStatusSchema.options) expect(EVENT_TYPES).toContain(vmEventTypeForStatus(s));
    for (const s of workspaceStatusSchema.options)
      expect(EVENT_TYPES).toContain(workspaceEventTypeForStatus(s));
  });

  it("covers the five entity families", () => {
    const families = new Set(EVENT_TYPES.map((t) => t.split(".")[0]));
    expect([...families].sort()).toEqual(["prompt", "task", "vm", "worker", "workspace"]);
    expect(Object.keys(eventCatalog)).toHaveLength(EVENT_TYPES.length);
  });
});

describe("parseEvent", () => {
  it("parses a typed event from an object or JSON text", () => {
    const event = createEvent("worker.joined", { worker }, new Date("2025-01-31T12:00:00Z"));
    const parsed = parseEvent(JSON.stringify(event));
    expect(parsed.type).toBe("worker.joined");
    if (parsed.type === "worker.joined") expect(parsed.data.worker.hostname).toBe("host-a");
    expect(parseEvent(event)).toEqual(event);
  });

  it("rejects unknown types and bad data with clear messages", () => {
    expect(() => parseEvent({ type: "vm.exploded", at: "2025-01-31T12:00:00Z", data: {} })).toThrow(
      /unknown event type "vm.exploded"/,
    );
    expect(() =>
      parseEvent({
        type: "worker.joined",
        at: "2025-01-31T12:00:00Z",
        data: { worker: { ...worker, status: "gone" } },
      }),
    ).toThrow(/event "worker.joined": worker\.status: /);
    expect(() => parseEvent({ type: "worker.joined", data: {} })).toThrow(/envelope: at: /);
    expect(() => parseEvent("{not json")).toThrow(/not valid JSON/);
  });
});
