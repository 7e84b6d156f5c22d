/**
 * Writes the output of a running command to its record every `intervalMs`, or sooner once
 * `maxBytes` more have been kept since the last write, so a worker that dies mid-command loses at
 * most that much. One write at a time; nothing is written when nothing changed (a command past
 * its kept-output cap does not rewrite the same prefix every second).
 */
export class OutputFlusher {
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #again = false;
  #flushedAt = 0;
  #flushedState = "";
  #stopped = false;

  constructor(
    private readonly options: {
      readonly intervalMs: number;
      readonly maxBytes: number;
      /** Bytes kept so far (all streams); grows while the command prints. */
      readonly keptBytes: () => number;
      /** Changes whenever what would be written changes (kept bytes, truncation flags). */
      readonly state: () => string;
      readonly write: () => Promise<void>;
      readonly onError: (err: unknown) => void;
    },
  ) {
    this.#timer = setInterval(() => this.#flush(), options.intervalMs);
    this.#timer.unref();
  }

  /** Called after output arrives: writes at once when enough has piled up. */
  noteOutput(): void {
    if (this.options.keptBytes() - this.#flushedAt >= this.options.maxBytes) this.#flush();
  }

  /** No more writes; resolves once a write in flight has finished (the final record follows). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#writing;
  }

  #flush(): void {
    if (this.#stopped) return;
    if (this.#writing) {
      this.#again = true;
      return;
    }
    const state = this.options.state();
    if (state === this.#flushedState) return;
    const kept = this.options.keptBytes();
    this.#writing = this.options
      .write()
      .then(
        () => {
          this.#flushedAt = kept;
          this.#flushedState = state;
        },
        (err: unknown) => this.options.onError(err),
      )
      .finally(() => {
        this.#writing = undefined;
        if (this.#again) {
          this.#again = false;
          this.#flush();
        }
      });
  }
}
