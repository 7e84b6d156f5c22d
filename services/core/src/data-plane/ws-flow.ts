import { WebSocket } from "ws";

/** Default bound on bytes a WebSocket may hold unsent before its producer is paused: 1 MiB. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;

/** The socket closed while a message was being sent. */
export class SocketClosedError extends Error {
  override readonly name = "SocketClosedError";
}

/** Keeps the highest `bufferedAmount` seen, to show that buffering stays bounded. */
export class BufferWatermark {
  #max = 0;
  /** The highest value recorded. */
  get max(): number {
    return this.#max;
  }
  record(bytes: number): void {
    if (bytes > this.#max) this.#max = bytes;
  }
}

/**
 * Sends `data` and, when the socket then holds more than `maxBuffered` unsent bytes, resolves
 * only once that message (and so everything before it) has been handed to the kernel. A producer
 * that awaits each send therefore never makes the socket buffer more than about `maxBuffered`
 * plus one message, however slow the reader is. Rejects with {@link SocketClosedError} when the
 * socket is or becomes closed.
 */
export function sendBounded(
  ws: WebSocket,
  data: string | Buffer,
  maxBuffered: number,
  options: { binary?: boolean; watermark?: BufferWatermark } = {},
): Promise<void> {
  if (ws.readyState !== WebSocket.OPEN) {
    return Promise.reject(new SocketClosedError("the WebSocket is closed"));
  }
  let flushed!: (err?: Error | null) => void;
  const written = new Promise<void>((resolve, reject) => {
    flushed = (err) => (err ? reject(new SocketClosedError(err.message)) : resolve());
  });
  written.catch(() => {});
  ws.send(data, { binary: options.binary ?? false }, (err) => flushed(err));
  const buffered = ws.bufferedAmount;
  options.watermark?.record(buffered);
  if (buffered <= maxBuffered) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onClose = (): void => reject(new SocketClosedError("the WebSocket closed"));
    ws.once("close", onClose);
    written.then(resolve, reject).finally(() => ws.off("close", onClose));
  });
}
