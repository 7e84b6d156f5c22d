import type { Readable } from "node:stream";
import { AGENT_OUTPUT_FRAME, type AgentOutputStream } from "@aetherium/types";
import {
  AbstractMessageReader,
  type DataCallback,
  type Disposable,
  type Message,
  type MessageReader,
} from "vscode-jsonrpc/node";

/** A chunk of output that arrived as a binary frame. */
export interface OutputFrame {
  processId: string;
  stream: AgentOutputStream;
  seq: number;
  /** The bytes; may share memory with the socket's read buffer (do not write to it). */
  data: Buffer;
}

/** Largest header block accepted; real ones are under 200 bytes. */
const MAX_HEADER_BYTES = 8 * 1024;
const HEADER_END = Buffer.from("\r\n\r\n", "latin1");
const OUTPUT_HEADER = AGENT_OUTPUT_FRAME.header.toLowerCase();
const OUTPUT_VALUE = /^([A-Za-z0-9._:-]{1,128}) (stdout|stderr) (\d+)$/;

/**
 * Reads what an agent sends: JSON-RPC messages in Content-Length framing (as vscode-jsonrpc's
 * StreamMessageReader) and binary output frames (`AGENT_OUTPUT_FRAME`), which go to `onOutput`
 * instead of the JSON-RPC connection. Frames are handed on synchronously, in arrival order: output
 * at once, messages to the connection (which processes them on a later turn), so an `exec.exit`
 * is never handled before the output that preceded it.
 *
 * Bodies are collected as a list of the socket's chunks and joined once, so a large message (an
 * 8 MiB `fs.read` answer) costs one copy rather than one per chunk; an output frame that makes up
 * most of one socket chunk is not copied at all.
 */
export class AgentFrameReader extends AbstractMessageReader implements MessageReader {
  private callback: DataCallback | undefined;
  /** Bytes of the current header block seen so far (or leftover after a body). */
  private head: Buffer = Buffer.alloc(0);
  /** While reading a body: its length, its headers and the parts received. */
  private body:
    { length: number; output: string | undefined; parts: Buffer[]; got: number } | undefined;

  /**
   * @param socket - The connection to the agent (any readable byte stream).
   * @param onOutput - Receives each binary output frame.
   */
  constructor(
    private readonly socket: Readable,
    private readonly onOutput: (frame: OutputFrame) => void,
  ) {
    super();
  }

  /** {@inheritDoc MessageReader.listen} */
  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const onData = (chunk: Buffer): void => this.onData(chunk);
    const onError = (err: Error): void => this.fireError(err);
    const onClose = (): void => this.fireClose();
    this.socket.on("data", onData);
    this.socket.on("error", onError);
    this.socket.on("close", onClose);
    return {
      dispose: () => {
        this.socket.off("data", onData);
        this.socket.off("error", onError);
        this.socket.off("close", onClose);
      },
    };
  }

  private onData(chunk: Buffer): void {
    let data = chunk;
    try {
      while (data.length > 0) {
        if (this.body === undefined) {
          data = this.readHeader(data);
        } else {
          data = this.readBody(data);
        }
      }
    } catch (err) {
      // The stream is out of step; nothing after this point can be trusted.
      this.fireError(err);
      this.socket.destroy();
    }
  }

  /** Consumes header bytes; returns what is left of `data` after the header block (if complete). */
  private readHeader(data: Buffer): Buffer {
    const buf = this.head.length === 0 ? data : Buffer.concat([this.head, data]);
    const end = buf.indexOf(HEADER_END);
    if (end < 0) {
      if (buf.length > MAX_HEADER_BYTES) throw new Error("agent sent a header block without end");
      this.head = Buffer.from(buf); // own copy: `data` belongs to the socket's chunk
      return Buffer.alloc(0);
    }
    this.head = Buffer.alloc(0);
    let length: number | undefined;
    let output: string | undefined;
    let contentType: string | undefined;
    for (const line of buf.toString("latin1", 0, end).split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new Error(`agent sent a malformed header line: ${line.slice(0, 80)}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") length = Number(value);
      else if (name === "content-type") contentType = value;
      else if (name === OUTPUT_HEADER) output = value;
    }
    if (length === undefined || !Number.isSafeInteger(length) || length < 0) {
      throw new Error("agent sent a frame without a valid Content-Length");
    }
    if (contentType === AGENT_OUTPUT_FRAME.contentType && output === undefined) {
      throw new Error(`agent sent an output frame without ${AGENT_OUTPUT_FRAME.header}`);
    }
    this.body = { length, output, parts: [], got: 0 };
    return buf.subarray(end + HEADER_END.length);
  }

  /** Consumes body bytes; returns the rest of `data` once the body is complete. */
  private readBody(data: Buffer): Buffer {
    const body = this.body;
    if (body === undefined) return data;
    const need = body.length - body.got;
    const take = data.length <= need ? data : data.subarray(0, need);
    body.parts.push(take);
    body.got += take.length;
    if (body.got < body.length) return Buffer.alloc(0);
    this.body = undefined;
    const only = body.parts.length === 1 ? body.parts[0] : undefined;
    // A body inside one read is passed on as a view of that read's Buffer, unless it is the
    // smaller part of it: a consumer that keeps many small chunks (an output capture) would
    // otherwise keep whole 64 KiB reads alive for a few bytes each.
    const bytes =
      only === undefined
        ? Buffer.concat(body.parts)
        : only.byteLength * 2 >= only.buffer.byteLength
          ? only
          : Buffer.from(only);
    this.deliver(bytes, body.output);
    return data.subarray(take.length);
  }

  private deliver(bytes: Buffer, output: string | undefined): void {
    if (output !== undefined) {
      const m = OUTPUT_VALUE.exec(output);
      if (m === null) throw new Error(`agent sent a malformed ${AGENT_OUTPUT_FRAME.header} header`);
      const stream = m[2] === "stderr" ? "stderr" : "stdout";
      this.onOutput({ processId: m[1] ?? "", stream, seq: Number(m[3]), data: bytes });
      return;
    }
    let message: Message;
    try {
      message = JSON.parse(bytes.toString("utf8")) as Message;
    } catch (err) {
      // Framing is intact, so later messages are still readable: report and go on.
      this.fireError(err);
      return;
    }
    this.callback?.(message);
  }
}
