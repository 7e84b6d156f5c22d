import { createEvent, type DomainEvent } from "@aetherium/types";
import { useTestRedis } from "@aetherium/testing";
import { afterEach, describe, expect, it } from "vitest";
import { RedisEventBus } from "./redis-event-bus.js";

const redis = useTestRedis();
const buses: RedisEventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
});

async function bus() {
  const b = new RedisEventBus({
    url: redis.current.url,
    channelPrefix: `${redis.current.prefix}events:`,
  });
  buses.push(b);
  await b.ready();
  return b;
}

const worker = {
  id: "w1",
  hostname: "h",
  address: "http://127.0.0.1:1",
  status: "active" as const,
  backends: [],
  capacity: { vcpus: 1, memoryMb: 1, maxVms: 1 },
  used: { vcpus: 0, memoryMb: 0, vms: 0 },
  labels: {},
  zone: "",
  lastSeenAt: new Date().toISOString(),
  healthy: true,
};

function collect(b: RedisEventBus, patterns: string[]) {
  const got: DomainEvent[] = [];
  b.subscribe(patterns, (e) => {
    got.push(e);
  });
  return got;
}

async function until(cond: () => boolean) {
  const deadline = Date.now() + 5000;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

describe("RedisEventBus", () => {
  it("delivers events across connections (processes) by topic pattern, in publish order", async () => {
    const publisher = await bus();
    const subscriber = await bus();
    const workers = collect(subscriber, ["worker.*"]);
    const joinedOnly = collect(subscriber, ["worker.joined"]);
    const tasks = collect(subscriber, ["task.*"]);
    await publisher.publish(createEvent("worker.joined", { worker }));
    await publisher.publish(createEvent("worker.updated", { worker }));
    await publisher.publish(createEvent("worker.offline", { worker }));
    await until(() => workers.length === 3);
    expect(workers.map((e) => e.type)).toEqual([
      "worker.joined",
      "worker.updated",
      "worker.offline",
    ]);
    expect(joinedOnly.map((e) => e.type)).toEqual(["worker.joined"]);
    expect(tasks).toEqual([]);
    expect(workers[0]?.data).toEqual({ worker });
  });

  it("keeps installations with different prefixes apart and ignores garbage", async () => {
    const mine = await bus();
    const other = new RedisEventBus({
      url: redis.current.url,
      channelPrefix: `${redis.current.prefix}other:`,
    });
    buses.push(other);
    await other.ready();
    const got = collect(mine, ["*"]);
    await other.publish(createEvent("worker.joined", { worker }));
    await redis.current.client.publish(`${redis.current.prefix}events:all`, "not json");
    await redis.current.client.publish(
      `${redis.current.prefix}events:all`,
      JSON.stringify({ nope: 1 }),
    );
    await mine.publish(createEvent("worker.offline", { worker }));
    await until(() => got.length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(got.map((e) => e.type)).toEqual(["worker.offline"]);
  });

  it("stops delivering after unsubscribe", async () => {
    const b = await bus();
    const got: string[] = [];
    const off = b.subscribe(["*"], (e) => {
      got.push(e.type);
    });
    await b.publish(createEvent("worker.joined", { worker }));
    await until(() => got.length === 1);
    off();
    await b.publish(createEvent("worker.offline", { worker }));
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual(["worker.joined"]);
  });
});
