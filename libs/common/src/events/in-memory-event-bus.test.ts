import { Writable } from "node:stream";
import type { EventEnvelope } from "@aetherium/types";
import { describe, expect, it } from "vitest";
import { createLogger } from "../logger/index.js";
import { InMemoryEventBus } from "./in-memory-event-bus.js";

const at = "2025-01-01T00:00:00.000Z";
const event = (type: string, data: unknown = {}): EventEnvelope => ({ type, at, data });

describe("InMemoryEventBus", () => {
  it("delivers events by exact type, entity wildcard and *", async () => {
    const bus = new InMemoryEventBus<EventEnvelope>();
    const exact: string[] = [];
    const vm: string[] = [];
    const all: string[] = [];
    bus.subscribe(["vm.running"], (e) => void exact.push(e.type));
    bus.subscribe(["vm.*"], (e) => void vm.push(e.type));
    bus.subscribe(["*"], (e) => void all.push(e.type));

    await bus.publish(event("vm.running"));
    await bus.publish(event("task.failed"));
    await bus.publish(event("vm.deleted"));
    await bus.idle();

    expect(exact).toEqual(["vm.running"]);
    expect(vm).toEqual(["vm.running", "vm.deleted"]);
    expect(all).toEqual(["vm.running", "task.failed", "vm.deleted"]);
  });

  it("runs handlers after publish returns and delivers once per subscription", async () => {
    const bus = new InMemoryEventBus<EventEnvelope>();
    const seen: unknown[] = [];
    bus.subscribe(["vm.*", "vm.running", "*"], (e) => void seen.push(e.data));
    const published = bus.publish(event("vm.running", { id: "vm_1" }));
    expect(seen).toEqual([]); // nothing ran inside publish()
    await published;
    await bus.idle();
    expect(seen).toEqual([{ id: "vm_1" }]);
  });

  it("keeps publish order per subscription even with slow async handlers", async () => {
    const bus = new InMemoryEventBus<EventEnvelope>();
    const seen: number[] = [];
    bus.subscribe(["*"], async (e) => {
      const n = e.data as number;
      await new Promise((resolve) => setTimeout(resolve, n === 1 ? 20 : 0));
      seen.push(n);
    });
    for (const n of [1, 2, 3]) await bus.publish(event("task.created", n));
    await bus.idle();
    expect(seen).toEqual([1, 2, 3]);
  });

  it("stops delivering after unsubscribe", async () => {
    const bus = new InMemoryEventBus<EventEnvelope>();
    const seen: string[] = [];
    const unsubscribe = bus.subscribe(["*"], (e) => void seen.push(e.type));
    await bus.publish(event("vm.created"));
    await bus.idle();
    unsubscribe();
    unsubscribe();
    await bus.publish(event("vm.deleted"));
    await bus.idle();
    expect(seen).toEqual(["vm.created"]);
  });

  it("isolates a throwing handler from other handlers and the publisher, and logs it", async () => {
    let logged = "";
    const logger = createLogger({
      service: "test",
      destination: new Writable({
        write(chunk: Buffer, _enc, done) {
          logged += chunk.toString();
          done();
        },
      }),
    });
    const bus = new InMemoryEventBus<EventEnvelope>({ logger });
    const seen: string[] = [];
    bus.subscribe(["*"], () => {
      throw new Error("boom");
    });
    bus.subscribe(["*"], () => Promise.reject(new Error("async boom")));
    bus.subscribe(["*"], (e) => void seen.push(e.type));

    await expect(bus.publish(event("vm.failed"))).resolves.toBeUndefined();
    await bus.publish(event("vm.lost"));
    await bus.idle();

    expect(seen).toEqual(["vm.failed", "vm.lost"]);
    expect(logged).toContain("event handler failed");
    expect(logged).toContain("boom");
    expect(logged).toContain("async boom");
  });

  it("rejects malformed patterns and publishing after close", async () => {
    const bus = new InMemoryEventBus<EventEnvelope>();
    expect(() => bus.subscribe(["vm."], () => undefined)).toThrow(/invalid topic pattern/);
    const seen: string[] = [];
    bus.subscribe(["*"], (e) => void seen.push(e.type));
    await bus.publish(event("vm.created"));
    await bus.close();
    expect(seen).toEqual(["vm.created"]);
    await expect(bus.publish(event("vm.deleted"))).rejects.toThrow(/closed/);
  });
});
