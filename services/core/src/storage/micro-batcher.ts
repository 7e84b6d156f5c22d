/**
 * Coalesces calls made in the same turn of the event loop into one batch. Under load, dozens of
 * concurrent task writes become one statement and one commit (one WAL flush) instead of dozens;
 * alone, a call waits only until `setImmediate`, so latency stays unchanged.
 *
 * If a batch fails, each of its items is retried on its own, so one bad item (a duplicate
 * idempotency key, say) fails only its own caller.
 */
export class MicroBatcher<I, O> {
  #pending: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  /**
   * Batches that failed and were redone item by item. Correct either way, but a batch statement
   * that always fails (a typing mistake in its SQL, say) would silently cost the whole speed-up;
   * tests assert this stays 0.
   */
  batchFailures = 0;
  #scheduled = false;

  constructor(
    private readonly runBatch: (items: I[]) => Promise<O[]>,
    private readonly runOne: (item: I) => Promise<O>,
    private readonly maxSize = 100,
  ) {}

  /** Queues one item; resolves with its own result. */
  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#pending.length >= this.maxSize) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#pending.splice(0, this.maxSize);
    if (batch.length === 0) return;
    if (this.#pending.length > 0 && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
    if (batch.length === 1) {
      const [only] = batch;
      this.runOne(only!.item).then(only!.resolve, only!.reject);
      return;
    }
    this.runBatch(batch.map((b) => b.item)).then(
      (results) => batch.forEach((b, i) => b.resolve(results[i] as O)),
      () => {
        this.batchFailures++;
        for (const b of batch) this.runOne(b.item).then(b.resolve, b.reject);
      },
    );
  }
}
