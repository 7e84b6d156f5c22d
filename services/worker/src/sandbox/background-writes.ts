/**
 * Database writes that may finish after their caller got its answer, at most `limit` in flight:
 * past it a caller waits for its own write, so a slow database slows callers down instead of
 * piling writes up in memory. A failed write is retried once, then handed to `onError`.
 */
export class BackgroundWrites {
  readonly #pending = new Set<Promise<void>>();

  constructor(
    private readonly options: {
      readonly limit: number;
      readonly onError: (err: unknown) => void;
    },
  ) {}

  /** Writes in flight. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Starts `write` now. Resolves at once while fewer than `limit` writes are in flight, otherwise
   * once this one has settled. Never rejects.
   */
  async run(write: () => Promise<unknown>): Promise<void> {
    const p: Promise<void> = write()
      .catch(() => write())
      .then(
        () => undefined,
        (err: unknown) => this.options.onError(err),
      )
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
    if (this.#pending.size > this.options.limit) await p;
  }

  /** Resolves once every write started so far has settled. */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }
}
