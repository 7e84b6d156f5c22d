import { describe, expect, it } from "vitest";
import { StatusLine } from "./progress.js";

const sink = (isTTY: boolean) => {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (c: string | Uint8Array) => writes.push(String(c)) } };
};

describe("StatusLine", () => {
  it("prints one line per change when not a terminal (CI logs)", () => {
    const { writes, stream } = sink(false);
    const line = new StatusLine(stream);
    line.update("demo: pending");
    line.update("demo: pending");
    line.update("demo: creating");
    line.stop();
    expect(writes).toEqual(["demo: pending\n", "demo: creating\n"]);
  });

  it("rewrites one line on a terminal and clears it when done", () => {
    const { writes, stream } = sink(true);
    const line = new StatusLine(stream);
    line.update("demo: creating");
    line.stop();
    expect(writes[0]?.startsWith("\r\x1b[2K")).toBe(true);
    expect(writes[0]?.endsWith(" demo: creating")).toBe(true);
    expect(writes.at(-1)).toBe("\r\x1b[2K");
  });

  it("stays silent for --json", () => {
    const { writes, stream } = sink(true);
    const line = new StatusLine(stream, { quiet: true });
    line.update("demo: creating");
    line.stop();
    expect(writes).toEqual([]);
  });
});
