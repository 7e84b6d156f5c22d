import { describe, expect, it } from "vitest";
import { OutputRing } from "./output-ring.js";

const chunk = (seq: number, size: number) => ({
  seq,
  stream: "stdout" as const,
  data: Buffer.alloc(size, seq),
});

describe("OutputRing", () => {
  it("keeps the newest chunks within its capacity, bytes intact across the wrap", () => {
    const ring = new OutputRing(100);
    for (let i = 0; i < 10; i++) ring.push(chunk(i, 30));
    expect(ring.firstSeq).toBe(7);
    const kept = ring.since(0);
    expect(kept.map((c) => c.seq)).toEqual([7, 8, 9]);
    for (const c of kept) expect(c.data.equals(Buffer.alloc(30, c.seq))).toBe(true);
    expect(ring.since(9).map((c) => c.seq)).toEqual([9]);
  });

  it("grows as output comes and wraps correctly once full", () => {
    const ring = new OutputRing(10_000);
    const pushed: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const data = Buffer.from(Array.from({ length: 700 + i }, (_, j) => (i * 7 + j) % 256));
      pushed.push(data);
      ring.push({ seq: i, stream: i % 2 === 0 ? "stdout" : "stderr", data });
    }
    const kept = ring.since(0);
    expect(kept.length).toBeGreaterThan(5);
    expect(kept.reduce((n, c) => n + c.data.length, 0)).toBeLessThanOrEqual(10_000);
    for (const c of kept) expect(c.data.equals(pushed[c.seq] ?? Buffer.alloc(0))).toBe(true);
    expect(kept.at(-1)?.seq).toBe(39);
  });

  it("keeps the tail of a chunk bigger than the whole buffer", () => {
    const ring = new OutputRing(10);
    ring.push(chunk(0, 5));
    const big = Buffer.from("0123456789abcdefghij");
    ring.push({ seq: 1, stream: "stderr", data: big });
    expect(ring.since(0)).toEqual([{ seq: 1, stream: "stderr", data: Buffer.from("abcdefghij") }]);
  });

  it("reports the next seq as first when empty, and survives compaction", () => {
    const ring = new OutputRing(1);
    expect(ring.firstSeq).toBe(0);
    for (let i = 0; i < 5000; i++) ring.push(chunk(i, 1));
    expect(ring.firstSeq).toBe(4999);
    expect(ring.since(0)).toHaveLength(1);
  });
});
