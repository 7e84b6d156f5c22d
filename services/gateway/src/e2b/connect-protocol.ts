import type { ServerResponse } from "node:http";
import { httpStatusOf, isAetheriumError, toErrorEnvelope } from "@aetherium/common";

/**
 * The parts of the Connect protocol (connectrpc.com/docs/protocol) the `e2b` SDKs use, with the
 * JSON codec: unary calls (`application/json` in and out, an error as an HTTP status with
 * `{code, message}`) and server streams (`application/connect+json`: five-byte envelopes, the
 * last one flagged end-of-stream and carrying the error, if any) and client streams (the same
 * envelopes in the request, one message and end-of-stream in the answer).
 * @module
 */

/** Connect error codes the gateway answers with. */
export type ConnectCode =
  | "canceled"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "unauthenticated";

const STATUS_OF: Record<ConnectCode, number> = {
  canceled: 499,
  invalid_argument: 400,
  deadline_exceeded: 504,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  resource_exhausted: 429,
  failed_precondition: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  unauthenticated: 401,
};

/** An error to answer with a Connect code (the SDK turns the code into its own error class). */
export class ConnectError extends Error {
  constructor(
    readonly code: ConnectCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The HTTP status and a safe message for anything thrown: Aetherium's errors as they say,
 * Fastify's own client errors (a body too large, bad JSON) with their status, 500s without their
 * cause.
 */
export function httpErrorOf(err: unknown, requestId: string): { status: number; message: string } {
  if (err instanceof ConnectError) return { status: STATUS_OF[err.code], message: err.message };
  if (!isAetheriumError(err) && err instanceof Error) {
    const sc = (err as { statusCode?: unknown }).statusCode;
    if (typeof sc === "number" && sc >= 400 && sc < 500)
      return { status: sc, message: err.message };
  }
  return { status: httpStatusOf(err), message: toErrorEnvelope(err, requestId).error.message };
}

/** The Connect code and a safe message for anything thrown (500s never show their cause). */
export function toConnectError(err: unknown, requestId: string): ConnectError {
  if (err instanceof ConnectError) return err;
  const { status, message } = httpErrorOf(err, requestId);
  const code: ConnectCode =
    status === 400
      ? "invalid_argument"
      : status === 401
        ? "unauthenticated"
        : status === 403
          ? "permission_denied"
          : status === 404
            ? "not_found"
            : status === 409
              ? "failed_precondition"
              : status === 413 || status === 429
                ? "resource_exhausted"
                : status === 503
                  ? "unavailable"
                  : "internal";
  return new ConnectError(code, message);
}

/** The HTTP status a unary error goes out with. */
export function statusOfCode(code: ConnectCode): number {
  return STATUS_OF[code];
}

/**
 * The first message of an enveloped request body (a server-stream call sends exactly one), or of
 * a unary JSON body. Anything that is not one JSON object is `invalid_argument`.
 */
export function requestMessage(body: Buffer, enveloped: boolean): Record<string, unknown> {
  let json = body;
  if (enveloped) {
    if (body.length < 5) throw new ConnectError("invalid_argument", "request envelope is missing");
    const flags = body[0] ?? 0;
    if (flags & 0x01)
      throw new ConnectError("invalid_argument", "compressed messages are not supported");
    const len = body.readUInt32BE(1);
    if (body.length < 5 + len)
      throw new ConnectError("invalid_argument", "request envelope is truncated");
    json = body.subarray(5, 5 + len);
  }
  return parseMessage(json);
}

function parseMessage(json: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = json.length === 0 ? {} : JSON.parse(json.toString("utf8"));
  } catch {
    throw new ConnectError("invalid_argument", "request message is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConnectError("invalid_argument", "request message must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

/**
 * Splits a client stream's body (`application/connect+json`) into its messages as its bytes
 * arrive: `push` each chunk and act on the messages it completes, `finish` at the end of the
 * body. A message over `maxBytes`, a compressed one or a body cut inside an envelope throws
 * `resource_exhausted`/`invalid_argument`; an end-of-stream envelope ends the stream (`done`).
 */
export class EnvelopeReader {
  readonly #maxBytes: number;
  #pending: Buffer = Buffer.alloc(0);
  #done = false;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Whether an end-of-stream envelope came (nothing after it is read). */
  get done(): boolean {
    return this.#done;
  }

  /** The messages `chunk` completes, in order. */
  push(chunk: Buffer): Record<string, unknown>[] {
    if (this.#done) return [];
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const out: Record<string, unknown>[] = [];
    while (this.#pending.length >= 5) {
      const flags = this.#pending[0] ?? 0;
      const len = this.#pending.readUInt32BE(1);
      if (flags & 0x01)
        throw new ConnectError("invalid_argument", "compressed messages are not supported");
      if (len > this.#maxBytes)
        throw new ConnectError(
          "resource_exhausted",
          `a message of ${len} bytes is over the limit of ${this.#maxBytes}`,
        );
      if (this.#pending.length < 5 + len) break;
      const json = this.#pending.subarray(5, 5 + len);
      this.#pending = this.#pending.subarray(5 + len);
      if (flags & 0x02) {
        this.#done = true;
        break;
      }
      out.push(parseMessage(json));
    }
    return out;
  }

  /** Checks the body ended between envelopes. */
  finish(): void {
    if (!this.#done && this.#pending.length > 0)
      throw new ConnectError("invalid_argument", "request envelope is truncated");
  }
}

function envelope(flags: number, payload: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(payload), "utf8");
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(json.length, 1);
  return Buffer.concat([head, json]);
}

/**
 * A server stream written to `res`: `send` one message at a time, then `end` once, with the
 * error that ended it if any. Both do nothing once the stream ended or the client left.
 */
export class ServerStream {
  readonly #res: ServerResponse;
  #ended = false;

  constructor(res: ServerResponse) {
    this.#res = res;
    res.writeHead(200, { "content-type": "application/connect+json" });
    // Headers out at once: the SDK waits for them before it reads the first event.
    res.flushHeaders();
    res.once("close", () => {
      this.#ended = true;
    });
  }

  /** Whether the stream is still open (not ended, client still there). */
  get open(): boolean {
    return !this.#ended;
  }

  /** Writes one message; false when the client is not keeping up (wait for `drain`). */
  send(message: unknown): boolean {
    if (this.#ended) return true;
    return this.#res.write(envelope(0, message));
  }

  end(error?: ConnectError): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#res.end(
      envelope(0x02, error ? { error: { code: error.code, message: error.message } } : {}),
    );
  }
}

/**
 * The keep-alive interval a stream call asks for (`Keepalive-Ping-Interval`, seconds), bounded
 * to 1 s..5 min; 50 s when absent, as the SDK asks.
 */
export function keepaliveMs(header: string | string[] | undefined): number {
  const n = Number(Array.isArray(header) ? header[0] : header);
  return Number.isFinite(n) && n > 0 ? Math.min(Math.max(n, 1), 300) * 1000 : 50_000;
}

/** The call's deadline from `Connect-Timeout-Ms`, or undefined for none. */
export function deadlineMs(header: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (!raw || !/^\d{1,10}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n > 0 ? n : undefined;
}
