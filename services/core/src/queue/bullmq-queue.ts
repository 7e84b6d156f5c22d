/**
 * The distributed queue: the {@link JobQueue} contract on BullMQ. BullMQ moves jobs, locks them,
 * retries them with backoff and recovers stalled ones; this file adds what the contract says and
 * BullMQ does not: payload checks, "retry only RetryableError", timeouts, cancellation of a job
 * running in another process, and `recovered`.
 *
 * Per job it costs no Redis round trip beyond BullMQ's own (add; fetch+lock; finish): everything
 * else (validation, hooks, timers) is local, and cancellation rides one pub/sub connection per
 * process instead of per-job polling.
 */
import { toDependencyError } from "@aetherium/common";
import { isJobName, type JobName, type JobPayload } from "@aetherium/types";
import {
  DelayedError,
  Queue,
  UnrecoverableError,
  WaitingError,
  Worker,
  type Job,
  type KeepJobs,
} from "bullmq";
import { Redis, type RedisOptions } from "ioredis";
import type {
  CancelOutcome,
  ConsumeOptions,
  Consumer,
  EnqueueOptions,
  JobContext,
  JobHandler,
  JobHandlers,
  JobQueue,
  QueueCounts,
  QueueName,
} from "./job-queue.js";
import { JobCancelledError, JobShutdownError } from "./job-queue.js";
import { resolveJobOptions, validateJobPayload, type BackoffSpec } from "./job-spec.js";
import { consoleQueueLogger, type QueueLogger } from "./logger.js";
import { callHook, runAttempt } from "./run-attempt.js";

/** Options of {@link BullmqJobQueue}. */
export interface BullmqJobQueueOptions {
  /** Redis URL or ioredis options; the queue opens (and closes) its own connections. */
  readonly connection: string | RedisOptions;
  /** BullMQ key prefix; every key and the cancel channels live under it. */
  readonly prefix: string;
  /**
   * How long a worker's lock on a job lasts without renewal (default 30 s). A worker that dies
   * loses its jobs after this; shorter means faster recovery but more renewal traffic.
   */
  readonly lockDurationMs?: number;
  /** How often consumers look for jobs whose lock expired (default 30 s). */
  readonly stalledIntervalMs?: number;
  /**
   * Longest an enqueue, cancel, count or PING waits for Redis (default 3 s), so a frozen Redis
   * fails the request that called it instead of hanging it. Consumers' blocking reads are exempt.
   */
  readonly commandTimeoutMs?: number;
  /** Longest a TCP connect to Redis may take before a retry (default 3 s). */
  readonly connectTimeoutMs?: number;
  /** Where hook and connection failures are reported; the console when unset. */
  readonly logger?: QueueLogger;
  /** Finished jobs kept in Redis for inspection; bounded so Redis does not grow forever. */
  readonly keepCompleted?: KeepJobs;
  /** Failed jobs kept in Redis for inspection; bounded so Redis does not grow forever. */
  readonly keepFailed?: KeepJobs;
}

/** What is stored as BullMQ job data: the raw payload plus what a consumer cannot look up. */
interface StoredJobData {
  readonly payload: unknown;
  readonly timeoutMs: number;
}

/** The message on a queue's cancel channel. */
interface CancelMessage {
  readonly id: string;
}

const DEFAULT_LOCK_MS = 30_000;
const DEFAULT_STALLED_INTERVAL_MS = 30_000;
const DEFAULT_KEEP_COMPLETED: KeepJobs = { age: 3600, count: 1000 };
const DEFAULT_KEEP_FAILED: KeepJobs = { age: 7 * 24 * 3600, count: 5000 };
/** A job this consumer has no handler for goes back for this long, for a consumer that has. */
const NO_HANDLER_DELAY_MS = 1000;
/**
 * A cancel that found no running job here is remembered at least this long: the job may be
 * fetched but not started yet, or its worker may have died and the job will be recovered here
 * (which takes up to lockDuration + stalledInterval).
 */
const MIN_PENDING_CANCEL_TTL_MS = 30_000;
/** Attempt limit for a job BullMQ holds that was not added by us (no stored timeout). */
const FOREIGN_JOB_TIMEOUT_MS = 60 * 60_000;

/**
 * BullMQ forbids `:` in queue names (ours are `create:<backend>`, `worker:<id>`) and all-digit
 * job ids. `%` is not valid in either of ours, so escaping through it is collision-free.
 */
function bullQueueName(queue: QueueName): string {
  return queue.replaceAll("%", "%25").replaceAll(":", "%3A");
}
function bullJobId(id: string): string {
  if (id.includes(":")) throw new RangeError(`job id must not contain ':' (got "${id}")`);
  return /^\d+$/.test(id) ? `%${id}` : id;
}
function ourJobId(bullId: string | undefined): string {
  const id = bullId ?? "";
  return id.startsWith("%") ? id.slice(1) : id;
}

/** Ours: 0..100, larger sooner. BullMQ: 1 is highest, larger later; 0 would mean "unprioritized". */
function bullPriority(priority: number): number {
  return 101 - priority;
}

function isStoredJobData(data: unknown): data is StoredJobData {
  return typeof data === "object" && data !== null && "payload" in data && "timeoutMs" in data;
}

interface QueueEntry {
  readonly queue: Queue;
  readonly channel: string;
  readonly consumers: Set<BullConsumer>;
}

/** The BullMQ {@link JobQueue}; see the module comment of `job-queue.ts` for the guarantees. */
export class BullmqJobQueue implements JobQueue {
  readonly #opts: BullmqJobQueueOptions;
  readonly #logger: QueueLogger;
  readonly #queues = new Map<QueueName, QueueEntry>();
  /** `${channel}\n${bullId}` → expiry; see {@link MIN_PENDING_CANCEL_TTL_MS}. */
  readonly #pendingCancels = new Map<string, number>();
  /** Producers fail fast when Redis is down (default ioredis retries); queues and publish. */
  #producer: Redis | undefined;
  /** Workers block and must ride out outages (maxRetriesPerRequest: null, as BullMQ requires). */
  #workerClient: Redis | undefined;
  #subscriber: Redis | undefined;
  readonly #subscriptions = new Map<string, Promise<void>>();
  readonly #pendingCancelTtlMs: number;
  #closed = false;
  /** Between a connection error and the next successful (re)connection. */
  #outage = false;

  /** Connects lazily: nothing is opened until the first enqueue, cancel, consume or counts. */
  constructor(options: BullmqJobQueueOptions) {
    this.#opts = options;
    this.#logger = options.logger ?? consoleQueueLogger;
    const recoveryMs =
      (options.lockDurationMs ?? DEFAULT_LOCK_MS) +
      (options.stalledIntervalMs ?? DEFAULT_STALLED_INTERVAL_MS);
    this.#pendingCancelTtlMs = Math.max(MIN_PENDING_CANCEL_TTL_MS, 2 * recoveryMs);
  }

  /** {@inheritDoc JobQueue.enqueue} */
  async enqueue<N extends JobName>(
    name: N,
    payload: JobPayload<N>,
    options: EnqueueOptions,
  ): Promise<void> {
    if (this.#closed) throw new Error("queue is closed");
    validateJobPayload(name, payload);
    const opts = resolveJobOptions(name, payload, options);
    const data: StoredJobData = { payload, timeoutMs: opts.timeoutMs };
    // An existing jobId makes BullMQ's add a no-op; that is the idempotency the contract wants.
    await this.#redisCall(() =>
      this.#entry(options.queue).queue.add(name, data, {
        jobId: bullJobId(options.jobId),
        priority: bullPriority(opts.priority),
        ...(opts.delayMs > 0 ? { delay: opts.delayMs } : {}),
        attempts: opts.attempts,
        backoff: { type: opts.backoff.type, delay: opts.backoff.delayMs },
        removeOnComplete: this.#opts.keepCompleted ?? DEFAULT_KEEP_COMPLETED,
        removeOnFail: this.#opts.keepFailed ?? DEFAULT_KEEP_FAILED,
      }),
    );
  }

  /** {@inheritDoc JobQueue.cancel} */
  async cancel(jobId: string, queue: QueueName): Promise<CancelOutcome> {
    return this.#redisCall(() => this.#cancel(jobId, queue));
  }

  async #cancel(jobId: string, queue: QueueName): Promise<CancelOutcome> {
    const entry = this.#entry(queue);
    const id = bullJobId(jobId);
    const job = await entry.queue.getJob(id);
    // A finished job is kept for inspection, but there is nothing left to cancel.
    if (!job || job.finishedOn) return "not_found";
    // remove() refuses a locked (= active) job and returns 0; that is the atomic state check.
    if ((await entry.queue.remove(id)) === 1) return "removed";
    const message: CancelMessage = { id };
    await this.#producerClient().publish(entry.channel, JSON.stringify(message));
    return "signalled";
  }

  /** {@inheritDoc JobQueue.consume} */
  consume(queue: QueueName, handlers: JobHandlers, options: ConsumeOptions): Consumer {
    if (this.#closed) throw new Error("queue is closed");
    if (!(options.concurrency >= 1)) throw new RangeError("concurrency must be at least 1");
    const entry = this.#entry(queue);
    const consumer = new BullConsumer(
      queue,
      entry,
      handlers,
      options,
      this.#logger,
      (job, token, signal, c) => this.#process(job, token, signal, c),
    );
    consumer.worker = new Worker(bullQueueName(queue), consumer.processor, {
      connection: this.#workerConnection(),
      prefix: this.#opts.prefix,
      concurrency: options.concurrency,
      // Started only once the cancel channel is subscribed, so no cancel can be missed.
      autorun: false,
      lockDuration: this.#opts.lockDurationMs ?? DEFAULT_LOCK_MS,
      stalledInterval: this.#opts.stalledIntervalMs ?? DEFAULT_STALLED_INTERVAL_MS,
      // A job whose worker died runs again once (recovered: true); a second death fails it.
      maxStalledCount: 1,
    });
    consumer.attachListeners();
    entry.consumers.add(consumer);
    consumer.onClosed = () => this.#consumerClosed(entry, consumer);
    this.#subscribe(entry.channel)
      .then(() => consumer.start())
      .catch((err: unknown) =>
        this.#logger.error({ err, queue }, "queue consumer could not start"),
      );
    return consumer;
  }

  /** {@inheritDoc JobQueue.counts} */
  async counts(queue: QueueName): Promise<QueueCounts> {
    // One script call; "waiting" includes BullMQ's paused list, and prioritized jobs wait too.
    const c = await this.#redisCall(() =>
      this.#entry(queue).queue.getJobCounts("waiting", "prioritized", "active", "delayed"),
    );
    return {
      waiting: (c.waiting ?? 0) + (c.paused ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
    };
  }

  /** {@inheritDoc JobQueue.ping} */
  async ping(): Promise<void> {
    if (this.#closed) throw new Error("queue is closed");
    await this.#redisCall(() => this.#producerClient().ping());
  }

  /** Closes consumers (letting running jobs finish), queues, and the Redis connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const entries = [...this.#queues.values()];
    await Promise.all(entries.flatMap((e) => [...e.consumers].map((c) => c.close())));
    await Promise.all(entries.map((e) => e.queue.close()));
    this.#queues.clear();
    await Promise.all(
      [this.#subscriber, this.#workerClient, this.#producer].map(async (client) => {
        if (!client) return;
        await client.quit().catch(() => client.disconnect());
      }),
    );
  }

  #entry(queue: QueueName): QueueEntry {
    let entry = this.#queues.get(queue);
    if (!entry) {
      const name = bullQueueName(queue);
      const q = new Queue(name, { connection: this.#producerClient(), prefix: this.#opts.prefix });
      q.on("error", (err) => this.#connectionError(err, queue));
      entry = { queue: q, channel: `${this.#opts.prefix}:${name}:cancel`, consumers: new Set() };
      this.#queues.set(queue, entry);
    }
    return entry;
  }

  #newClient(extra: RedisOptions): Redis {
    const c = this.#opts.connection;
    const client = typeof c === "string" ? new Redis(c, extra) : new Redis({ ...c, ...extra });
    client.on("error", (err) => this.#connectionError(err));
    client.on("ready", () => {
      if (!this.#outage) return;
      this.#outage = false;
      this.#logger.info?.({}, "queue connection to Redis restored");
    });
    return client;
  }

  /** ioredis and BullMQ report every failed reconnection; one line per outage is enough. */
  #connectionError(err: Error, queue?: QueueName): void {
    if (this.#outage) return;
    this.#outage = true;
    this.#logger.warn({ err, ...(queue ? { queue } : {}) }, "queue connection error; reconnecting");
  }

  #producerClient(): Redis {
    // One reconnection attempt, then the call fails: a request waits milliseconds, not the
    // seconds of several back-offs, while Redis is down; the timeout covers a frozen Redis.
    this.#producer ??= this.#newClient({
      maxRetriesPerRequest: 1,
      commandTimeout: this.#opts.commandTimeoutMs ?? 3000,
      connectTimeout: this.#opts.connectTimeoutMs ?? 3000,
    });
    return this.#producer;
  }

  #workerConnection(): Redis {
    this.#workerClient ??= this.#newClient({
      maxRetriesPerRequest: null,
      connectTimeout: this.#opts.connectTimeoutMs ?? 3000,
    });
    return this.#workerClient;
  }

  /** Runs a request-path Redis call; an outage becomes `unavailable` naming the queue. */
  async #redisCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw toDependencyError(err, "queue") ?? err;
    }
  }

  #subscribe(channel: string): Promise<void> {
    let done = this.#subscriptions.get(channel);
    if (!done) {
      if (!this.#subscriber) {
        const sub = this.#newClient({
          maxRetriesPerRequest: null,
          connectTimeout: this.#opts.connectTimeoutMs ?? 3000,
        });
        sub.on("message", (ch: string, raw: string) => this.#onCancelMessage(ch, raw));
        this.#subscriber = sub;
      }
      done = this.#subscriber.subscribe(channel).then(() => undefined);
      this.#subscriptions.set(channel, done);
    }
    return done;
  }

  #consumerClosed(entry: QueueEntry, consumer: BullConsumer): void {
    entry.consumers.delete(consumer);
    if (entry.consumers.size === 0 && this.#subscriptions.delete(entry.channel) && !this.#closed) {
      this.#subscriber?.unsubscribe(entry.channel).catch(() => undefined);
    }
  }

  #onCancelMessage(channel: string, raw: string): void {
    let message: CancelMessage;
    try {
      message = JSON.parse(raw) as CancelMessage;
    } catch {
      return;
    }
    const entry = [...this.#queues.values()].find((e) => e.channel === channel);
    let delivered = false;
    for (const consumer of entry?.consumers ?? []) {
      if (consumer.worker?.cancelJob(message.id, "cancelled")) delivered = true;
    }
    if (!delivered) {
      // The job may be fetched here but not started yet; remember the request briefly.
      const now = Date.now();
      for (const [key, expiry] of this.#pendingCancels)
        if (expiry < now) this.#pendingCancels.delete(key);
      this.#pendingCancels.set(`${channel}\n${message.id}`, now + this.#pendingCancelTtlMs);
    }
  }

  #takePendingCancel(channel: string, bullId: string): boolean {
    const key = `${channel}\n${bullId}`;
    const expiry = this.#pendingCancels.get(key);
    if (expiry === undefined) return false;
    this.#pendingCancels.delete(key);
    return expiry >= Date.now();
  }

  async #process(
    job: Job,
    token: string | undefined,
    signal: AbortSignal | undefined,
    consumer: BullConsumer,
  ) {
    const bullId = job.id ?? "";
    // A paused worker blocked on Redis may still have taken one job as it woke; hand it back.
    if (consumer.paused) {
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const handler = consumer.handlerFor(job.name);
    if (!handler && isJobName(job.name)) {
      // Another consumer of this queue may have the handler; we must not fail the job for it.
      this.#logger.warn(
        { jobId: ourJobId(bullId), name: job.name },
        "no handler for job; handing it back",
      );
      await job.moveToDelayed(Date.now() + NO_HANDLER_DELAY_MS, token);
      throw new DelayedError();
    }
    const data: unknown = job.data;
    const stored = isStoredJobData(data)
      ? data
      : { payload: data, timeoutMs: FOREIGN_JOB_TIMEOUT_MS };
    const controller = new AbortController();
    const onBullAbort = () => {
      const reason: unknown = signal?.reason;
      controller.abort(new JobCancelledError(typeof reason === "string" ? reason : "cancelled"));
    };
    if (signal?.aborted) onBullAbort();
    else signal?.addEventListener("abort", onBullAbort, { once: true });
    if (this.#takePendingCancel(consumer.entry.channel, bullId))
      controller.abort(new JobCancelledError());

    const outcome = await consumer.track(
      controller,
      runAttempt({
        id: ourJobId(bullId),
        name: job.name,
        queue: consumer.queueName,
        rawPayload: stored.payload,
        // attemptsMade counts finished (failed) attempts only, not stalls: a recovered run is the
        // same attempt again, which is what the contract's numbering means.
        attempt: job.attemptsMade + 1,
        maxAttempts: job.opts.attempts ?? 1,
        recovered: job.stalledCounter > 0,
        timeoutMs: stored.timeoutMs,
        backoff: bullBackoff(job),
        handler,
        hooks: consumer.hooks,
        logger: this.#logger,
        controller,
      }),
    );
    signal?.removeEventListener("abort", onBullAbort);
    switch (outcome.kind) {
      case "success":
        return outcome.result;
      case "retry":
        // Not an UnrecoverableError and attempts remain: BullMQ schedules the retry itself with
        // the same backoff that runAttempt reported to onRetry.
        throw outcome.error;
      case "failure":
        throw new UnrecoverableError(`${outcome.error.name}: ${outcome.error.message}`);
      case "handBack":
        // Back to the queue for any consumer, as for a job without a handler here; a delayed
        // move is not a failed attempt.
        await job.moveToDelayed(Date.now() + outcome.delayMs, token);
        throw new DelayedError();
      case "shutdown":
        // Wait until the worker's connection is closing: BullMQ then records nothing, the lock
        // lapses and another worker recovers the job (recovered: true).
        await consumer.worker?.close(true);
        throw outcome.error;
    }
  }
}

function bullBackoff(job: Job): BackoffSpec {
  const b = job.opts.backoff;
  if (typeof b === "number") return { type: "fixed", delayMs: b };
  return { type: b?.type === "exponential" ? "exponential" : "fixed", delayMs: b?.delay ?? 0 };
}

type Process = (
  job: Job,
  token: string | undefined,
  signal: AbortSignal | undefined,
  consumer: BullConsumer,
) => Promise<unknown>;

class BullConsumer implements Consumer {
  worker: Worker | undefined;
  paused = false;
  onClosed: () => void = () => undefined;
  readonly hooks: ConsumeOptions["hooks"];
  readonly #running = new Map<AbortController, Promise<unknown>>();
  #closing: Promise<void> | undefined;
  #started = false;
  /** BullMQ only passes the abort signal to processors that declare a third parameter. */
  readonly processor: (
    job: Job,
    token: string | undefined,
    signal: AbortSignal | undefined,
  ) => Promise<unknown>;

  constructor(
    readonly queueName: QueueName,
    readonly entry: QueueEntry,
    private readonly handlers: JobHandlers,
    options: ConsumeOptions,
    private readonly logger: QueueLogger,
    process: Process,
  ) {
    this.hooks = options.hooks;
    this.processor = (job, token, signal) => process(job, token, signal, this);
  }

  handlerFor(name: string): JobHandler | undefined {
    return isJobName(name) ? (this.handlers[name] as JobHandler | undefined) : undefined;
  }

  attachListeners(): void {
    const worker = this.worker;
    if (!worker) return;
    worker.on("error", (err) =>
      this.logger.error({ err, queue: this.queueName }, "queue worker error"),
    );
    // A job that stalled past maxStalledCount is failed by BullMQ without reaching our processor;
    // onFailure must still hear of it or its task would stay "running" forever.
    worker.on("failed", (job, err) => {
      if (!job?.deferredFailure) return;
      const data: unknown = job.data;
      const ctx = {
        id: ourJobId(job.id),
        name: job.name,
        queue: this.queueName,
        payload: isStoredJobData(data) ? data.payload : data,
        attempt: job.attemptsMade,
        maxAttempts: job.opts.attempts ?? 1,
        recovered: true,
        signal: AbortSignal.abort(),
      } as JobContext;
      void callHook(this.logger, "onFailure", ctx.id, () => this.hooks?.onFailure?.(ctx, err));
    });
  }

  start(): void {
    if (this.#started || this.#closing || !this.worker) return;
    this.#started = true;
    // Paused before it ever ran: resume() starts it.
    if (!this.paused) this.#run(this.worker);
  }

  #run(worker: Worker): void {
    worker
      .run()
      .catch((err: unknown) =>
        this.logger.error({ err, queue: this.queueName }, "queue worker stopped"),
      );
  }

  async track<T>(controller: AbortController, attempt: Promise<T>): Promise<T> {
    this.#running.set(controller, attempt);
    try {
      return await attempt;
    } finally {
      this.#running.delete(controller);
    }
  }

  async pause(): Promise<void> {
    this.paused = true;
    // doNotWaitActive: the contract's pause stops taking jobs and lets running ones go on.
    if (this.#started) await this.worker?.pause(true);
  }

  resume(): void {
    if (this.#closing) return;
    this.paused = false;
    const worker = this.worker;
    if (!this.#started || !worker) return;
    // Clears BullMQ's paused flag and restarts the main loop if pause() let it end.
    worker.resume();
  }

  close(force = false): Promise<void> {
    this.#closing ??= (async () => {
      const worker = this.worker;
      if (worker) {
        const closed = worker.close(force);
        if (force)
          for (const controller of this.#running.keys()) controller.abort(new JobShutdownError());
        await closed;
      }
      await Promise.all(this.#running.values());
      this.onClosed();
    })();
    return this.#closing;
  }
}
