/**
 * Keeps the first `limit` bytes of a stream and counts the rest: an `executions` row stores a
 * bounded prefix and says whether it was cut, instead of holding a 1 GiB log in memory.
 */
export class OutputCapture {
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  #total = 0;

  constructor(readonly limit: number) {}

  /** Takes one chunk. */
  push(chunk: Buffer): void {
    this.#total += chunk.length;
    const room = this.limit - this.#kept;
    if (room <= 0) return;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.#chunks.push(part);
    this.#kept += part.length;
  }

  /** Whether anything was dropped. */
  get truncated(): boolean {
    return this.#total > this.#kept;
  }

  /** Bytes kept (at most `limit`). */
  get keptBytes(): number {
    return this.#kept;
  }

  /** Total bytes seen. */
  get totalBytes(): number {
    return this.#total;
  }

  /**
   * The kept prefix as UTF-8 text (a multi-byte character cut at the limit becomes U+FFFD). NUL
   * bytes become U+FFFD too: a PostgreSQL text column cannot hold them, and a command printing
   * binary must not fail to be recorded.
   */
  text(): string {
    return Buffer.concat(this.#chunks).toString("utf8").replaceAll("\0", "\uFFFD");
  }
}
