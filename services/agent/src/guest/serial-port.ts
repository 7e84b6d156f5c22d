import { open, type FileHandle } from "node:fs/promises";
import { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { AgentLogger } from "./logger.js";
import { SERIAL_RESET_BLOCK, SERIAL_SYNC_PREFIX, serialSyncLine } from "../wire/serial-sync.js";

const SYNC_LINE = /^AETHERIUM-SYNC ([0-9a-f]{16,128})$/;
const MAX_SYNC_LINE = 256;
// While no host is connected, a read returns 0 at once: this is how often to look again.
const IDLE_POLL_MS = 50;

/** One host connection: a duplex stream whose writes go to the port while it lasts. */
class SerialSession extends Duplex {
  alive = true;

  constructor(private readonly port: SerialPortServer) {
    super({ allowHalfOpen: false });
  }

  override _read(): void {
    // Data is pushed as the port reads it.
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (!this.alive) {
      done();
      return;
    }
    this.port.enqueue(this, chunk).then(
      () => done(),
      (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
    );
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.alive = false;
    callback(err);
  }
}

/**
 * Serves the agent over a virtio-serial port (`/dev/virtio-ports/<name>`), the transport of the
 * microVM backends: one host connection at a time. A host connection ends when a read returns 0
 * (the port reports the host side closed) or when a new host's sync line arrives; each new one
 * gets a fresh session from `onSession`, so a host that reconnects (a restarted worker) finds the
 * agent and its processes as it left them.
 */
export class SerialPortServer {
  #handle: FileHandle | undefined;
  #session: SerialSession | undefined;
  // Chunks waiting for the port, written together: every JSON-RPC message is two stream writes
  // (header, body), and each write to the port is a trip through libuv's thread pool and a
  // notification to the VMM, which under TCG costs far more than the bytes.
  #pending: { chunk: Buffer; session?: SerialSession; done: (err?: Error) => void }[] = [];
  #flushing = false;
  #closed = false;

  constructor(
    private readonly device: string,
    private readonly onSession: (stream: Duplex) => void,
    private readonly logger: AgentLogger,
  ) {}

  /** Opens the port and starts reading; resolves once it is open. */
  async listen(): Promise<void> {
    this.#handle = await open(this.device, "r+");
    // Not awaited: while no host is connected the write blocks until one is.
    this.#queue(Buffer.from(SERIAL_RESET_BLOCK, "latin1")).catch(() => undefined);
    void this.#readLoop(this.#handle).catch((err: unknown) => {
      this.logger.error("serial port failed", { error: String(err) });
      process.exit(1);
    });
  }

  /** Ends the session and closes the port. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#endSession();
    await this.#handle?.close().catch(() => undefined);
  }

  /** Writes `chunk` for `session`, in order with every other write, unless it has ended by then. */
  enqueue(session: SerialSession, chunk: Buffer): Promise<void> {
    return this.#queue(chunk, session);
  }

  #queue(chunk: Buffer, session?: SerialSession): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({
        chunk,
        ...(session === undefined ? {} : { session }),
        done: (err) => (err === undefined ? resolve() : reject(err)),
      });
      void this.#flush();
    });
  }

  /**
   * Writes what is pending, in order, as one write per turn: what queued up while the previous
   * write was under way goes out together. A chunk whose session ended before its turn is dropped.
   */
  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0);
        const live = batch.filter((p) => p.session === undefined || p.session.alive);
        try {
          if (this.#handle !== undefined && live.length > 0) {
            await this.#writeAll(this.#handle, Buffer.concat(live.map((p) => p.chunk)));
          }
          for (const p of batch) p.done();
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          for (const p of batch) p.done(error);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  async #writeAll(handle: FileHandle, data: Buffer): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await handle.write(data, offset, data.length - offset, null);
      offset += bytesWritten;
    }
  }

  #endSession(): void {
    const session = this.#session;
    this.#session = undefined;
    if (session === undefined) return;
    session.alive = false;
    session.push(null);
    session.destroy();
    this.logger.debug("serial host disconnected");
  }

  async #readLoop(handle: FileHandle): Promise<void> {
    const buffer = Buffer.alloc(64 * 1024);
    let pending = Buffer.alloc(0);
    while (!this.#closed) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) {
        this.#endSession();
        pending = Buffer.alloc(0);
        await sleep(IDLE_POLL_MS);
        continue;
      }
      let data = Buffer.from(buffer.subarray(0, bytesRead));
      // A host reconnecting faster than this loop noticed it leave: its sync line starts a chunk.
      if (this.#session !== undefined && data.toString("latin1", 0, 15) === SERIAL_SYNC_PREFIX) {
        this.#endSession();
      }
      if (this.#session !== undefined) {
        this.#session.push(data);
        continue;
      }
      data = Buffer.concat([pending, data]);
      for (;;) {
        const newline = data.indexOf(10);
        if (newline < 0) {
          pending = data.length > MAX_SYNC_LINE ? Buffer.alloc(0) : data;
          break;
        }
        const match = SYNC_LINE.exec(data.toString("latin1", 0, newline));
        data = data.subarray(newline + 1);
        if (match === null) continue;
        const session = new SerialSession(this);
        this.#session = session;
        pending = Buffer.alloc(0);
        await this.enqueue(session, Buffer.from(serialSyncLine(match[1] ?? ""), "latin1"));
        this.logger.debug("serial host connected");
        this.onSession(session);
        if (data.length > 0) session.push(data);
        break;
      }
    }
  }
}
