import { describe, expect, it } from "vitest";
import { desiredWorkers } from "./desired-workers.js";

const base = {
  queueDepth: 0,
  runningSandboxes: 0,
  sandboxesPerWorker: 10,
  currentWorkers: 2,
  minWorkers: 1,
  maxWorkers: 8,
};

describe("desiredWorkers", () => {
  it("scales up at once when sandboxes queue", () => {
    // 40 waiting + 10 running at 80% of 10 per worker = 7 workers.
    expect(desiredWorkers({ ...base, queueDepth: 40, runningSandboxes: 10 }).desired).toBe(7);
  });

  it("never exceeds the maximum and says so", () => {
    const d = desiredWorkers({ ...base, queueDepth: 1000 });
    expect(d.desired).toBe(8);
    expect(d.reason).toMatch(/capped/);
  });

  it("steps down one worker at a time and never below the minimum", () => {
    expect(desiredWorkers({ ...base, currentWorkers: 6 }).desired).toBe(5);
    expect(desiredWorkers({ ...base, currentWorkers: 1 }).desired).toBe(1);
  });

  it("holds steady when demand fits", () => {
    expect(desiredWorkers({ ...base, runningSandboxes: 12 }).desired).toBe(2);
  });

  it("rejects nonsense configuration", () => {
    expect(() => desiredWorkers({ ...base, sandboxesPerWorker: 0 })).toThrow(RangeError);
    expect(() => desiredWorkers({ ...base, minWorkers: 9 })).toThrow(/minWorkers/);
  });
});
