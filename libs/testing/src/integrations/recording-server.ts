import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/** One request a fake provider received. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  /** The body parsed as JSON, or the raw text when it is not JSON. */
  readonly body: unknown;
}

/** An answer a fake route gives: status and JSON body (or text). */
export interface FakeAnswer {
  readonly status: number;
  readonly body?: unknown;
}

/** A route of a fake: `match` the method and path, then answer. */
export interface FakeRoute {
  readonly method: string;
  readonly pattern: RegExp;
  answer(request: RecordedRequest, match: RegExpExecArray): FakeAnswer;
}

/** A listening fake on loopback that records every request it answers. */
export interface RecordingServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly requests: readonly RecordedRequest[];
  /**
   * Resolves with the first recorded request `match` accepts, waiting up to `timeoutMs` (polled
   * every 50 ms) and rejecting after it.
   */
  waitFor(match: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  close(): Promise<void>;
}

/** Starts a fake on 127.0.0.1 with `routes`; anything else gets 404 like the real API. */
export async function startRecordingServer(routes: readonly FakeRoute[]): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // Not JSON: kept as text.
      }
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const recorded: RecordedRequest = {
        method: req.method ?? "GET",
        path,
        headers: req.headers,
        body,
      };
      let answer: FakeAnswer = { status: 404, body: { message: "Not Found" } };
      for (const route of routes) {
        const m = route.method === recorded.method ? route.pattern.exec(path) : null;
        if (m) {
          answer = route.answer(recorded, m);
          break;
        }
      }
      requests.push(recorded);
      if (typeof answer.body === "string") {
        res.writeHead(answer.status, { "content-type": "text/plain" }).end(answer.body);
      } else {
        res
          .writeHead(answer.status, { "content-type": "application/json; charset=utf-8" })
          .end(answer.body === undefined ? "" : JSON.stringify(answer.body));
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async waitFor(match, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = requests.find(match);
        if (found) return found;
        if (Date.now() > deadline) {
          throw new Error(`no matching request within ${timeoutMs} ms (got ${requests.length})`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
