import type { AgentOutputStream } from "@aetherium/types";

/** One chunk of process output as read from its pipe. */
export interface OutputChunk {
  seq: number;
  stream: AgentOutputStream;
  data: Buffer;
}

interface Entry {
  seq: number;
  stream: AgentOutputStream;
  /** Offset of the first byte in the stream of all bytes ever pushed. */
  start: number;
  length: number;
}

/**
 * The most recent output of one process, at most `capacity` bytes (both streams together), for
 * `exec.attach` replay. Bytes are copied into one fixed buffer rather than kept as the Buffers the
 * pipe produced: a chunk that stays referenced for a while survives V8's young-generation GC,
 * and promoted Buffers are freed only by a full GC, which let ~80 MiB of dead output pile up
 * while streaming. The buffer grows to `capacity` as output comes. A chunk bigger than the whole buffer keeps only its last `capacity` bytes.
 */
export class OutputRing {
  private store: Buffer = Buffer.alloc(0);
  private entries: Entry[] = [];
  private head = 0;
  private written = 0;
  private nextSeq = 0;

  constructor(private readonly capacity: number) {}

  // The buffer grows (doubling) up to `capacity`, so a process that prints little (or nothing)
  // costs little. Until it reaches `capacity` nothing has wrapped: bytes lie at [0, written).
  private reserve(n: number): void {
    if (this.store.length >= this.capacity || this.written + n <= this.store.length) return;
    const size = Math.min(this.capacity, Math.max(this.written + n, this.store.length * 2, 4096));
    const grown = Buffer.alloc(size);
    this.store.copy(grown, 0, 0, this.written);
    this.store = grown;
  }

  /** Appends a chunk (its `seq` must be the next one); the chunk's Buffer is not kept. */
  push(chunk: OutputChunk): void {
    const data =
      chunk.data.length > this.capacity
        ? chunk.data.subarray(chunk.data.length - this.capacity)
        : chunk.data;
    this.reserve(data.length);
    const at = this.written % this.capacity;
    const first = Math.min(data.length, this.capacity - at);
    data.copy(this.store, at, 0, first);
    if (first < data.length) data.copy(this.store, 0, first);
    this.entries.push({
      seq: chunk.seq,
      stream: chunk.stream,
      start: this.written,
      length: data.length,
    });
    this.written += data.length;
    this.nextSeq = chunk.seq + 1;
    const oldest = this.written - this.capacity;
    while ((this.entries[this.head]?.start ?? Infinity) < oldest) this.head++;
    // Compact now and then instead of shift()ing on every drop.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Seq of the oldest chunk still held (equals the next seq when empty). */
  get firstSeq(): number {
    return this.entries[this.head]?.seq ?? this.nextSeq;
  }

  /** Buffered chunks with `seq >= fromSeq`, oldest first (copies). */
  since(fromSeq: number): OutputChunk[] {
    const out: OutputChunk[] = [];
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i];
      if (e === undefined || e.seq < fromSeq) continue;
      const data = Buffer.allocUnsafe(e.length);
      const at = e.start % this.capacity;
      const first = Math.min(e.length, this.capacity - at);
      this.store.copy(data, 0, at, at + first);
      if (first < e.length) this.store.copy(data, first, 0, e.length - first);
      out.push({ seq: e.seq, stream: e.stream, data });
    }
    return out;
  }
}
