import type { Logger } from "@aetherium/common";
import { execClientMessageSchema, formatZodError, type ExecServerMessage } from "@aetherium/types";
import { WebSocket, type RawData } from "ws";
import { DEFAULT_MAX_BUFFERED_BYTES, sendBounded, type BufferWatermark } from "./ws-flow.js";

/** Options of {@link relayExecSockets}. */
export interface RelayOptions {
  readonly logger?: Logger;
  /** Unsent bytes either socket may hold before the other one is paused (default 1 MiB). */
  readonly maxBufferedBytes?: number;
  /** Records the highest `bufferedAmount` the client socket reached (tests, diagnostics). */
  readonly watermark?: BufferWatermark;
}

/**
 * Relays between a public client's exec socket and the worker's: client messages are checked
 * with `execClientMessageSchema` (a bad one is answered with an `error` message and not
 * forwarded), good ones and every server message are forwarded as they came. While the receiving
 * socket holds more than `maxBufferedBytes` unsent, the sending one is paused (TCP then pushes
 * back to the worker, which stops acknowledging the agent). Closing either closes the other with
 * the same code. Resolves when both are closed.
 */
export function relayExecSockets(
  client: WebSocket,
  upstream: WebSocket,
  options: RelayOptions = {},
): Promise<void> {
  const max = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const logger = options.logger;
  // Sockets paused because the other one holds too much unsent.
  const paused = new Set<WebSocket>();

  const forward = (
    from: WebSocket,
    to: WebSocket,
    data: string | Buffer,
    binary: boolean,
    watermark?: BufferWatermark,
  ): void => {
    if (to.readyState !== WebSocket.OPEN) return;
    const sent = sendBounded(to, data, max, { binary, ...(watermark ? { watermark } : {}) });
    sent.catch(() => {});
    if (to.bufferedAmount > max && !paused.has(from)) {
      paused.add(from);
      from.pause();
      void sent
        .catch(() => {})
        .finally(() => {
          paused.delete(from);
          if (from.readyState === WebSocket.OPEN) from.resume();
        });
    }
  };

  const reply = (msg: ExecServerMessage): void =>
    forward(upstream, client, JSON.stringify(msg), false, options.watermark);

  client.on("message", (raw: RawData, isBinary: boolean) => {
    if (isBinary) {
      reply({ type: "error", code: "bad_request", message: "exec messages are JSON text frames" });
      return;
    }
    const text = rawText(raw);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      reply({ type: "error", code: "bad_request", message: "message is not valid JSON" });
      return;
    }
    const parsed = execClientMessageSchema.safeParse(value);
    if (!parsed.success) {
      reply({
        type: "error",
        code: "bad_request",
        message: `invalid message: ${formatZodError(parsed.error)}`,
      });
      return;
    }
    forward(client, upstream, text, false);
  });
  upstream.on("message", (raw: RawData, isBinary: boolean) => {
    forward(
      upstream,
      client,
      isBinary ? rawBuffer(raw) : rawText(raw),
      isBinary,
      options.watermark,
    );
  });

  const closedBoth = Promise.all([closedOf(client), closedOf(upstream)]).then(() => undefined);
  const pair = (a: WebSocket, b: WebSocket, name: string): void => {
    a.on("close", (code: number, reason: Buffer) => {
      if (b.readyState === WebSocket.OPEN || b.readyState === WebSocket.CONNECTING) {
        b.close(sendableCode(code), reason.length <= 123 ? reason : undefined);
      }
    });
    a.on("error", (err: Error) => {
      logger?.debug({ err }, `exec relay: ${name} socket error`);
      b.terminate();
      a.terminate();
    });
  };
  pair(client, upstream, "client");
  pair(upstream, client, "worker");
  // The gateway may have paused the client while it opened the worker's socket.
  client.resume();
  upstream.resume();
  return closedBoth;
}

function closedOf(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => ws.once("close", () => resolve()));
}

// 1005 (no code), 1006 (abnormal) and 1015 (TLS) are reported, never sent.
function sendableCode(code: number): number {
  if (code === 1005) return 1000;
  if (code === 1006 || code === 1015) return 1011;
  return (code >= 1000 && code <= 1014) || (code >= 3000 && code <= 4999) ? code : 1011;
}

function rawBuffer(raw: RawData): Buffer {
  if (Array.isArray(raw)) return Buffer.concat(raw);
  return Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
}

function rawText(raw: RawData): string {
  return rawBuffer(raw).toString("utf8");
}
