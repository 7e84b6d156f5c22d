import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, resolveLokiUrl } from "./create-logger.js";

/** One parsed JSON log line. */
interface LogRecord {
  msg?: string;
  time?: string;
  [key: string]: unknown;
}

function capture() {
  const lines: string[] = [];
  let buffer = "";
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      buffer += chunk.toString();
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      lines.push(...parts);
      done();
    },
  });
  const records = () => lines.map((l) => JSON.parse(l) as LogRecord);
  return { destination, lines, records };
}

/** The body pino-loki POSTs. */
interface LokiPush {
  streams: { stream: Record<string, string>; values: unknown[] }[];
}

describe("createLogger", () => {
  it("writes JSON lines with level, time, service and message", () => {
    const out = capture();
    const logger = createLogger({ service: "gateway", destination: out.destination });
    logger.info({ vmId: "vm_1" }, "vm started");
    const [line] = out.records();
    expect(line).toMatchObject({
      level: "info",
      service: "gateway",
      vmId: "vm_1",
      msg: "vm started",
    });
    expect(new Date(line?.time as string).toISOString()).toBe(line?.time);
  });

  it("redacts authorization headers, API keys, passwords and sandbox env values", () => {
    const out = capture();
    const logger = createLogger({ service: "gateway", destination: out.destination });
    logger.info(
      {
        req: { headers: { authorization: "Bearer ak_live_secret", "x-api-key": "ak_2" } },
        apiKey: "ak_3",
        user: { password: "hunter2" },
        config: { secrets: { encryptionKey: "enc" } },
        vm: { id: "vm_1", env: { OPENAI_API_KEY: "sk-123", PATH: "/bin" } },
      },
      "request",
    );
    const text = out.lines.join("\n");
    for (const secret of ["ak_live_secret", "ak_2", "ak_3", "hunter2", 'enc"', "sk-123"]) {
      expect(text).not.toContain(secret);
    }
    const [line] = out.records();
    expect(line).toMatchObject({
      req: { headers: { authorization: "[redacted]", "x-api-key": "[redacted]" } },
      apiKey: "[redacted]",
      user: { password: "[redacted]" },
    });
    // Keys stay visible so the line is still useful.
    expect(line?.vm).toEqual({
      id: "vm_1",
      env: { OPENAI_API_KEY: "[redacted]", PATH: "[redacted]" },
    });
  });

  it("gives child loggers their ids on every line and keeps redacting", () => {
    const out = capture();
    const logger = createLogger({ service: "worker", destination: out.destination });
    const child = logger.child({ requestId: "req_1", sandboxId: "vm_9" });
    child.child({ jobId: "job_3" }).warn({ token: "t0ken" }, "slow");
    const [line] = out.records();
    expect(line).toMatchObject({
      service: "worker",
      requestId: "req_1",
      sandboxId: "vm_9",
      jobId: "job_3",
      token: "[redacted]",
      level: "warn",
    });
  });

  it("respects the level and extra redaction paths", () => {
    const out = capture();
    const logger = createLogger({
      service: "x",
      level: "warn",
      destination: out.destination,
      redact: ["customer.card"],
    });
    logger.info("hidden");
    logger.error({ customer: { card: "4242" } }, "shown");
    expect(out.records().map((r) => r.msg)).toEqual(["shown"]);
    expect(out.lines[0]).not.toContain("4242");
  });

  it("writes human-readable lines in pretty format", () => {
    const out = capture();
    const logger = createLogger({ service: "cli", format: "pretty", destination: out.destination });
    logger.info({ password: "p4ss" }, "hello there");
    const text = out.lines.join("\n");
    expect(text).toContain("INFO");
    expect(text).toContain("hello there");
    expect(text).not.toContain("p4ss");
    expect(() => JSON.parse(out.lines[0] ?? "") as unknown).toThrow();
  });

  it("pushes lines to Loki when a URL is configured", async () => {
    const received: { url: string | undefined; body: LokiPush }[] = [];
    let gotPush!: () => void;
    const pushed = new Promise<void>((resolve) => (gotPush = resolve));
    const server = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push({ url: req.url, body: JSON.parse(body) as LokiPush });
        res.writeHead(204).end();
        gotPush();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const out = capture();
      const logger = createLogger({
        service: "gateway",
        destination: out.destination,
        loki: {
          url: `http://127.0.0.1:${port}/loki/api/v1/push`,
          labels: { env: "test" },
          batching: { enabled: false },
        },
      });
      logger.info({ apiKey: "ak_x" }, "to loki");
      await pushed;
      expect(received[0]?.url).toBe("/loki/api/v1/push");
      const stream = received[0]?.body.streams[0];
      if (stream === undefined) throw new Error("no stream pushed");
      expect(stream.stream).toMatchObject({ service: "gateway", env: "test" });
      expect(JSON.stringify(stream.values)).toContain("to loki");
      expect(JSON.stringify(stream.values)).not.toContain("ak_x");
      expect(out.records()[0]?.msg).toBe("to loki");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("resolveLokiUrl", () => {
  it("accepts the base URL, a prefixed base or the full push URL, and extracts credentials", () => {
    expect(resolveLokiUrl("http://loki:3100")).toEqual({ host: "http://loki:3100/" });
    expect(resolveLokiUrl("http://loki:3100/loki/api/v1/push")).toEqual({
      host: "http://loki:3100/",
    });
    expect(resolveLokiUrl("https://gw/proxy")).toEqual({ host: "https://gw/proxy/" });
    expect(resolveLokiUrl("https://u:p%40ss@logs.example/")).toEqual({
      host: "https://logs.example/",
      basicAuth: { username: "u", password: "p@ss" },
    });
  });
});
