import { describe, expect, it } from "vitest";
import { ConnectError, EnvelopeReader } from "./connect-protocol.js";

function envelope(message: unknown, flags = 0): Buffer {
  const json = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(json.length, 1);
  return Buffer.concat([head, json]);
}

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    return err instanceof ConnectError ? err.code : "other";
  }
  return undefined;
};

describe("EnvelopeReader", () => {
  it("gives each message once its bytes are all there, however the body is cut", () => {
    const body = Buffer.concat([
      envelope({ start: { process: { pid: 7 } } }),
      envelope({ data: { input: { stdin: "aGk=" } } }),
      envelope({ keepalive: {} }),
    ]);
    for (const size of [1, 3, 5, 7, body.length]) {
      const reader = new EnvelopeReader(1024);
      const got: unknown[] = [];
      for (let at = 0; at < body.length; at += size) {
        got.push(...reader.push(body.subarray(at, at + size)));
      }
      reader.finish();
      expect(got).toEqual([
        { start: { process: { pid: 7 } } },
        { data: { input: { stdin: "aGk=" } } },
        { keepalive: {} },
      ]);
    }
  });

  it("stops at an end-of-stream envelope and refuses what it cannot take", () => {
    const ended = new EnvelopeReader(1024);
    expect(
      ended.push(Buffer.concat([envelope({ keepalive: {} }), envelope({}, 2), envelope({ a: 1 })])),
    ).toEqual([{ keepalive: {} }]);
    expect(ended.done).toBe(true);
    expect(ended.push(envelope({ b: 2 }))).toEqual([]);

    const cut = new EnvelopeReader(1024);
    cut.push(envelope({ keepalive: {} }).subarray(0, 8));
    expect(codeOf(() => cut.finish())).toBe("invalid_argument");
    expect(codeOf(() => new EnvelopeReader(8).push(envelope({ big: "x".repeat(20) })))).toBe(
      "resource_exhausted",
    );
    expect(codeOf(() => new EnvelopeReader(1024).push(envelope({}, 1)))).toBe("invalid_argument");
    expect(codeOf(() => new EnvelopeReader(1024).push(envelope([1, 2])))).toBe("invalid_argument");
  });
});
