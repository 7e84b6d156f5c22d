/**
 * The embedded-mode queue: same contract as the BullMQ one, in memory, no Redis. Jobs live only as
 * long as the process; after a crash the `tasks` table is what recovery starts from, so
 * `recovered` is always false here.
 */
import type { JobName, JobPayload } from "@aetherium/types";
import type {
  CancelOutcome,
  ConsumeOptions,
  Consumer,
  EnqueueOptions,
  JobHandler,
  JobHandlers,
  JobQueue,
  QueueCounts,
  QueueName,
} from "./job-queue.js";
import { JobCancelledError, JobShutdownError } from "./job-queue.js";
import { resolveJobOptions, validateJobPayload, type ResolvedJobOptions } from "./job-spec.js";
import { consoleQueueLogger, type QueueLogger } from "./logger.js";
import { runAttempt, toError, type AttemptOutcome } from "./run-attempt.js";

/** Options of {@link InProcessJobQueue}. */
export interface InProcessJobQueueOptions {
  /** Where hook failures are reported; the console when unset. */
  readonly logger?: QueueLogger;
}

interface Entry {
  readonly id: string;
  readonly name: JobName;
  readonly queue: QueueName;
  readonly payload: unknown;
  readonly opts: ResolvedJobOptions;
  /** Enqueue order; ties of priority run in this order. A retry keeps its original place. */
  readonly seq: number;
  /** The attempt that runs next (1-based). */
  attempt: number;
  state: "waiting" | "delayed" | "active";
  timer?: NodeJS.Timeout;
  controller?: AbortController;
}

interface QueueState {
  readonly entries: Map<string, Entry>;
  /** Sorted: higher priority first, then lower seq. */
  readonly waiting: Entry[];
  readonly consumers: Set<LocalConsumer>;
}

/** The in-memory {@link JobQueue}; see the module comment of `job-queue.ts` for the guarantees. */
export class InProcessJobQueue implements JobQueue {
  readonly #queues = new Map<QueueName, QueueState>();
  readonly #logger: QueueLogger;
  #seq = 0;
  #closed = false;

  /** An empty queue; queues by name appear on first use. */
  constructor(options: InProcessJobQueueOptions = {}) {
    this.#logger = options.logger ?? consoleQueueLogger;
  }

  /** {@inheritDoc JobQueue.enqueue} */
  enqueue<N extends JobName>(
    name: N,
    payload: JobPayload<N>,
    options: EnqueueOptions,
  ): Promise<void> {
    try {
      if (this.#closed) throw new Error("queue is closed");
      validateJobPayload(name, payload);
      const opts = resolveJobOptions(name, payload, options);
      const qs = this.#state(options.queue);
      if (qs.entries.has(options.jobId)) return Promise.resolve();
      const entry: Entry = {
        id: options.jobId,
        name,
        queue: options.queue,
        // Kept as given and parsed again per attempt, like a payload read back from Redis.
        payload,
        opts,
        seq: this.#seq++,
        attempt: 1,
        state: "waiting",
      };
      qs.entries.set(entry.id, entry);
      if (opts.delayMs > 0) this.#delay(qs, entry, opts.delayMs);
      else this.#makeWaiting(qs, entry);
      return Promise.resolve();
    } catch (err) {
      // A bad payload or option must surface as a rejection, exactly like the Redis queue's.
      return Promise.reject(toError(err));
    }
  }

  /** {@inheritDoc JobQueue.cancel} */
  cancel(jobId: string, queue: QueueName): Promise<CancelOutcome> {
    const qs = this.#queues.get(queue);
    const entry = qs?.entries.get(jobId);
    if (!qs || !entry) return Promise.resolve("not_found");
    if (entry.state === "active") {
      entry.controller?.abort(new JobCancelledError());
      return Promise.resolve("signalled");
    }
    this.#forget(qs, entry);
    return Promise.resolve("removed");
  }

  /** {@inheritDoc JobQueue.consume} */
  consume(queue: QueueName, handlers: JobHandlers, options: ConsumeOptions): Consumer {
    if (this.#closed) throw new Error("queue is closed");
    if (!(options.concurrency >= 1)) throw new RangeError("concurrency must be at least 1");
    const qs = this.#state(queue);
    const consumer = new LocalConsumer(qs, handlers, options, () => this.#dispatch(qs));
    qs.consumers.add(consumer);
    consumer.runOne = (entry) => this.#run(qs, consumer, entry);
    this.#dispatch(qs);
    return consumer;
  }

  /** {@inheritDoc JobQueue.counts} */
  counts(queue: QueueName): Promise<QueueCounts> {
    const counts = { waiting: 0, active: 0, delayed: 0 };
    for (const entry of this.#queues.get(queue)?.entries.values() ?? []) counts[entry.state]++;
    return Promise.resolve(counts);
  }

  /** Drops jobs not yet started, then closes consumers, letting running jobs finish. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#queues.values()];
    // Jobs not yet started die with the queue (the tasks table recovers them); clearing the timers
    // is what lets the process exit.
    for (const qs of all) {
      for (const entry of qs.entries.values()) {
        if (entry.state !== "active") this.#forget(qs, entry);
      }
    }
    await Promise.all(all.flatMap((qs) => [...qs.consumers].map((c) => c.close())));
  }

  #state(queue: QueueName): QueueState {
    let qs = this.#queues.get(queue);
    if (!qs) {
      qs = { entries: new Map(), waiting: [], consumers: new Set() };
      this.#queues.set(queue, qs);
    }
    return qs;
  }

  #delay(qs: QueueState, entry: Entry, delayMs: number): void {
    entry.state = "delayed";
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      this.#makeWaiting(qs, entry);
    }, delayMs);
    // A pending delay must not keep a finished program alive.
    entry.timer.unref();
  }

  #makeWaiting(qs: QueueState, entry: Entry): void {
    entry.state = "waiting";
    // Binary search for the first entry that should run after this one: O(log n) to find, and
    // FIFO among equal priorities because seq only grows.
    const w = qs.waiting;
    let lo = 0;
    let hi = w.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = w[mid];
      if (other && runsBefore(other, entry)) lo = mid + 1;
      else hi = mid;
    }
    w.splice(lo, 0, entry);
    this.#dispatch(qs);
  }

  #forget(qs: QueueState, entry: Entry): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    if (entry.state === "waiting") {
      const i = qs.waiting.indexOf(entry);
      if (i >= 0) qs.waiting.splice(i, 1);
    }
    qs.entries.delete(entry.id);
  }

  /** Hands waiting jobs to consumers with free slots until no more can start. */
  #dispatch(qs: QueueState): void {
    let progress = true;
    while (progress && qs.waiting.length > 0) {
      progress = false;
      for (const consumer of qs.consumers) {
        if (!consumer.canTake()) continue;
        // A consumer only takes jobs it has a handler for; others wait for one that does.
        const i = qs.waiting.findIndex((e) => consumer.handles(e.name));
        const entry = i >= 0 ? qs.waiting[i] : undefined;
        if (!entry) continue;
        qs.waiting.splice(i, 1);
        consumer.runOne(entry);
        progress = true;
      }
    }
  }

  #run(qs: QueueState, consumer: LocalConsumer, entry: Entry): void {
    entry.state = "active";
    const controller = new AbortController();
    entry.controller = controller;
    const attempt = runAttempt({
      id: entry.id,
      name: entry.name,
      queue: entry.queue,
      rawPayload: entry.payload,
      attempt: entry.attempt,
      maxAttempts: entry.opts.attempts,
      recovered: false,
      timeoutMs: entry.opts.timeoutMs,
      backoff: entry.opts.backoff,
      handler: consumer.handlerFor(entry.name),
      hooks: consumer.hooks,
      logger: this.#logger,
      controller,
    });
    consumer.track(controller, attempt);
    void attempt.then((outcome: AttemptOutcome) => {
      entry.controller = undefined;
      if (
        (outcome.kind === "retry" || outcome.kind === "handBack") &&
        !this.#closed &&
        qs.entries.get(entry.id) === entry
      ) {
        if (outcome.kind === "retry") entry.attempt++;
        this.#delay(qs, entry, outcome.delayMs);
      } else {
        qs.entries.delete(entry.id);
      }
      this.#dispatch(qs);
    });
  }
}

function runsBefore(a: Entry, b: Entry): boolean {
  return a.opts.priority !== b.opts.priority ? a.opts.priority > b.opts.priority : a.seq < b.seq;
}

class LocalConsumer implements Consumer {
  readonly hooks: ConsumeOptions["hooks"];
  readonly #running = new Map<AbortController, Promise<unknown>>();
  #paused = false;
  #closed = false;
  runOne: (entry: Entry) => void = () => undefined;

  constructor(
    private readonly qs: QueueState,
    private readonly handlers: JobHandlers,
    private readonly options: ConsumeOptions,
    private readonly kick: () => void,
  ) {
    this.hooks = options.hooks;
  }

  canTake(): boolean {
    return !this.#paused && !this.#closed && this.#running.size < this.options.concurrency;
  }

  handles(name: JobName): boolean {
    return this.handlers[name] !== undefined;
  }

  handlerFor(name: JobName): JobHandler | undefined {
    return this.handlers[name] as JobHandler | undefined;
  }

  track(controller: AbortController, attempt: Promise<unknown>): void {
    this.#running.set(controller, attempt);
    void attempt.finally(() => this.#running.delete(controller));
  }

  pause(): Promise<void> {
    this.#paused = true;
    return Promise.resolve();
  }

  resume(): void {
    if (this.#closed) return;
    this.#paused = false;
    this.kick();
  }

  async close(force = false): Promise<void> {
    this.#closed = true;
    this.qs.consumers.delete(this);
    if (force)
      for (const controller of this.#running.keys()) controller.abort(new JobShutdownError());
    await Promise.all(this.#running.values());
    // Jobs this consumer could run may now suit another consumer of the same queue.
    this.kick();
  }
}
