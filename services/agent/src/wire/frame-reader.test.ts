import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import type { Message } from "vscode-jsonrpc/node";
import { AgentFrameReader, type OutputFrame } from "./frame-reader.js";

function jsonFrame(msg: object): Buffer {
  const body = Buffer.from(JSON.stringify(msg), "utf8");
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "latin1"), body]);
}

function outputFrame(processId: string, stream: string, seq: number, data: Buffer): Buffer {
  const head =
    `Content-Length: ${data.length}\r\nContent-Type: application/vnd.aetherium.output\r\n` +
    `Aetherium-Output: ${processId} ${stream} ${seq}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), data]);
}

type Seen = { message: Message } | { frame: OutputFrame };

function reader(): { input: PassThrough; seen: Seen[]; errors: unknown[]; closed: () => boolean } {
  const input = new PassThrough();
  const seen: Seen[] = [];
  const errors: unknown[] = [];
  let closed = false;
  const r = new AgentFrameReader(input, (frame) =>
    seen.push({ frame: { ...frame, data: Buffer.from(frame.data) } }),
  );
  r.onError((e) => errors.push(e));
  r.onClose(() => (closed = true));
  r.listen((message) => seen.push({ message }));
  return { input, seen, errors, closed: () => closed };
}

const allBytes = Buffer.from(Array.from({ length: 256 * 300 }, (_, i) => i % 256));
const stream = Buffer.concat([
  jsonFrame({ jsonrpc: "2.0", id: 1, result: { pid: 7, note: "héllo \r\n\r\n" } }),
  outputFrame("p-1", "stdout", 0, allBytes),
  outputFrame("p:2", "stderr", 1, Buffer.alloc(0)),
  // A body that looks like a header block must be taken as bytes.
  outputFrame("p-1", "stdout", 2, Buffer.from("Content-Length: 5\r\n\r\nhello", "latin1")),
  jsonFrame({ jsonrpc: "2.0", method: "exec.exit", params: { processId: "p-1", exitCode: 0 } }),
]);

function expectAll(seen: Seen[]): void {
  expect(seen).toHaveLength(5);
  expect(seen[0]).toEqual({
    message: { jsonrpc: "2.0", id: 1, result: { pid: 7, note: "héllo \r\n\r\n" } },
  });
  const f1 = (seen[1] as { frame: OutputFrame }).frame;
  expect([f1.processId, f1.stream, f1.seq]).toEqual(["p-1", "stdout", 0]);
  expect(f1.data.equals(allBytes)).toBe(true);
  const f2 = (seen[2] as { frame: OutputFrame }).frame;
  expect([f2.processId, f2.stream, f2.seq, f2.data.length]).toEqual(["p:2", "stderr", 1, 0]);
  expect((seen[3] as { frame: OutputFrame }).frame.data.toString("latin1")).toBe(
    "Content-Length: 5\r\n\r\nhello",
  );
  expect(seen[4]).toMatchObject({ message: { method: "exec.exit" } });
}

describe("AgentFrameReader", () => {
  it("reads JSON-RPC messages and binary output frames in order, bytes unchanged", () => {
    const { input, seen, errors } = reader();
    input.write(stream);
    expectAll(seen);
    expect(errors).toEqual([]);
  });

  it("reassembles frames split at every possible byte boundary", () => {
    for (const size of [1, 2, 3, 7, 64, 1000, 65536]) {
      const { input, seen, errors } = reader();
      for (let i = 0; i < stream.length; i += size) input.write(stream.subarray(i, i + size));
      expectAll(seen);
      expect(errors).toEqual([]);
    }
  });

  it("reports a body that is not JSON and keeps reading", () => {
    const { input, seen, errors } = reader();
    const bad = Buffer.from("{nope");
    input.write(Buffer.concat([Buffer.from(`Content-Length: ${bad.length}\r\n\r\n`), bad]));
    input.write(jsonFrame({ jsonrpc: "2.0", method: "x" }));
    expect(errors).toHaveLength(1);
    expect(seen).toEqual([{ message: { jsonrpc: "2.0", method: "x" } }]);
  });

  it("gives up on a stream that is out of step", () => {
    const { input, errors } = reader();
    input.write(Buffer.from("garbage without a colon\r\n\r\n"));
    expect(errors).toHaveLength(1);
    expect(input.destroyed).toBe(true);
  });
});

describe("AgentFrameReader memory", () => {
  it("does not hand out small views that keep a whole read alive", () => {
    const input = new PassThrough();
    const views: Buffer[] = [];
    new AgentFrameReader(input, (f) => views.push(f.data)).listen(() => {});
    const big = Buffer.alloc(60_000, 7);
    const read = Buffer.concat([
      outputFrame("p", "stdout", 0, Buffer.from("y")),
      outputFrame("p", "stdout", 1, big),
    ]);
    input.write(read);
    const [small, large] = views;
    expect(small?.toString()).toBe("y");
    // The 1-byte chunk is a copy (from Node's small-Buffer pool), not a view of the 60 KB read;
    // the big one, which is most of the read, may be a view.
    expect(small?.buffer).not.toBe(read.buffer);
    expect(large?.equals(big)).toBe(true);
  });
});
