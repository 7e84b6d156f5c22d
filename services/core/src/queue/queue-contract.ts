/**
 * The contract suite every {@link JobQueue} implementation must pass: the guarantees listed in
 * `job-queue.ts`, checked with real timers and small delays. Not a `.test.ts` file itself; each
 * implementation's test file calls {@link describeJobQueueContract}.
 */
import { randomBytes } from "node:crypto";
import type { JobPayload } from "@aetherium/types";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  JobCancelledError,
  JobShutdownError,
  JobTimeoutError,
  HandBackError,
  RetryableError,
  type Consumer,
  type JobContext,
  type JobHooks,
  type JobQueue,
} from "./job-queue.js";

/** What a contract run needs from an implementation: a fresh queue and a way to tear it down. */
export interface ContractQueue {
  readonly queue: JobQueue;
  cleanup(): Promise<void>;
}

/** One observed hook call. */
interface HookEvent {
  readonly hook: "start" | "success" | "retry" | "failure" | "handBack";
  readonly id: string;
  readonly attempt: number;
  readonly result?: unknown;
  readonly error?: Error;
  readonly delayMs?: number;
}

/** Polls `cond` every few ms; fails (never hangs) after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Like {@link waitFor} for an asynchronous condition. */
export async function waitUntil(
  cond: () => Promise<boolean>,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Resolves after `ms`, or early (rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

/** Resolves when `signal` aborts (or after `ms`, as a bound), with whether it aborted. */
function untilAborted(signal: AbortSignal, ms = 10_000): Promise<boolean> {
  return sleep(ms, signal).then(
    () => false,
    () => true,
  );
}

/** A `vm:stop` payload: small, valid, and distinguishable by `vmId`. */
function payload(tag: string): JobPayload<"vm:stop"> {
  return { taskId: `task-${tag}`, vmId: `vm-${tag}` };
}

function recorder(): { events: HookEvent[]; hooks: JobHooks } {
  const events: HookEvent[] = [];
  const hooks: JobHooks = {
    onStart: (ctx) => void events.push({ hook: "start", id: ctx.id, attempt: ctx.attempt }),
    onSuccess: (ctx, result) =>
      void events.push({ hook: "success", id: ctx.id, attempt: ctx.attempt, result }),
    onRetry: (ctx, error, delayMs) =>
      void events.push({ hook: "retry", id: ctx.id, attempt: ctx.attempt, error, delayMs }),
    onFailure: (ctx, error) =>
      void events.push({ hook: "failure", id: ctx.id, attempt: ctx.attempt, error }),
    onHandBack: (ctx, error) =>
      void events.push({ hook: "handBack", id: ctx.id, attempt: ctx.attempt, error }),
  };
  return { events, hooks };
}

/**
 * Registers the contract suite for one implementation. `makeQueue` is called before every test
 * and must return an empty queue; `cleanup` must close it and remove whatever it left behind.
 */
export function describeJobQueueContract(
  name: string,
  makeQueue: () => Promise<ContractQueue>,
): void {
  describe(`JobQueue contract: ${name}`, () => {
    let current: ContractQueue | undefined;
    let queue: JobQueue;
    let consumers: Consumer[] = [];
    // Unique queue names per test: a leftover job of one test can never reach the next.
    let q: string;

    const consume = (...args: Parameters<JobQueue["consume"]>): Consumer => {
      const c = queue.consume(...args);
      consumers.push(c);
      return c;
    };
    const handlerCalls = (events: HookEvent[], hook: HookEvent["hook"]) =>
      events.filter((e) => e.hook === hook);

    beforeEach(async () => {
      current = await makeQueue();
      queue = current.queue;
      consumers = [];
      q = `contract:${randomBytes(4).toString("hex")}`;
    });

    afterEach(async () => {
      // Force: a test that failed mid-way must not leave a handler holding the run open.
      await Promise.all(consumers.map((c) => c.close(true)));
      await current?.cleanup();
      current = undefined;
    });

    it("runs a job and hands its result to onSuccess", async () => {
      const { events, hooks } = recorder();
      const seen: JobContext[] = [];
      consume(
        q,
        {
          "vm:stop": (ctx) => {
            seen.push(ctx);
            return Promise.resolve({ stopped: ctx.payload.vmId });
          },
        },
        { concurrency: 1, hooks },
      );
      await queue.enqueue("vm:stop", payload("a"), { jobId: "job-a", queue: q, attempts: 2 });
      await waitFor(() => handlerCalls(events, "success").length === 1, 5000, "onSuccess");
      expect(events.map((e) => e.hook)).toEqual(["start", "success"]);
      expect(events[1]).toMatchObject({ id: "job-a", attempt: 1, result: { stopped: "vm-a" } });
      const ctx = seen[0];
      expect(ctx).toMatchObject({
        id: "job-a",
        name: "vm:stop",
        queue: q,
        payload: payload("a"),
        attempt: 1,
        maxAttempts: 2,
        recovered: false,
      });
      expect(ctx?.signal.aborted).toBe(false);
      // onSuccess may run before the job is marked finished; the counts catch up right after.
      await waitUntil(async () => (await queue.counts(q)).active === 0, 2000, "the job to finish");
      expect(await queue.counts(q)).toEqual({ waiting: 0, active: 0, delayed: 0 });
    });

    it("rejects an invalid payload on enqueue, naming the field", async () => {
      const bad = { taskId: "task-x", vmId: 42 } as unknown as JobPayload<"vm:stop">;
      await expect(queue.enqueue("vm:stop", bad, { jobId: "job-bad", queue: q })).rejects.toThrow(
        /vmId/,
      );
      expect(await queue.counts(q)).toEqual({ waiting: 0, active: 0, delayed: 0 });
    });

    it("retries a RetryableError with backoff and succeeds on attempt 3", async () => {
      const { events, hooks } = recorder();
      const startedAt: number[] = [];
      consume(
        q,
        {
          "vm:stop": (ctx) => {
            startedAt.push(Date.now());
            if (ctx.attempt < 3)
              return Promise.reject(new RetryableError(`engine unreachable #${ctx.attempt}`));
            return Promise.resolve("ok");
          },
        },
        { concurrency: 1, hooks },
      );
      await queue.enqueue("vm:stop", payload("r"), {
        jobId: "job-r",
        queue: q,
        attempts: 3,
        backoff: { type: "exponential", delayMs: 30 },
      });
      await waitFor(() => handlerCalls(events, "success").length === 1, 5000, "onSuccess");
      const retries = handlerCalls(events, "retry");
      expect(retries.map((e) => [e.attempt, e.delayMs])).toEqual([
        [1, 30],
        [2, 60],
      ]);
      expect(retries[0]?.error).toBeInstanceOf(RetryableError);
      expect(handlerCalls(events, "start").map((e) => e.attempt)).toEqual([1, 2, 3]);
      expect(handlerCalls(events, "success")[0]).toMatchObject({ attempt: 3, result: "ok" });
      expect(handlerCalls(events, "failure")).toHaveLength(0);
      // Backoff held each retry back (a few ms of timer slack allowed).
      const [t1 = 0, t2 = 0, t3 = 0] = startedAt;
      expect(t2 - t1).toBeGreaterThanOrEqual(25);
      expect(t3 - t2).toBeGreaterThanOrEqual(55);
    });

    it("takes a handed-back job again later, spending no attempt, even with attempts 1", async () => {
      const { events, hooks } = recorder();
      let calls = 0;
      consume(
        q,
        {
          "vm:stop": () => {
            calls++;
            if (calls < 3) return Promise.reject(new HandBackError("no room here", 20));
            return Promise.resolve("placed");
          },
        },
        { concurrency: 1, hooks },
      );
      await queue.enqueue("vm:stop", payload("h"), { jobId: "job-h", queue: q, attempts: 1 });
      await waitFor(() => handlerCalls(events, "success").length === 1, 10_000, "onSuccess");
      expect(calls).toBe(3);
      expect(handlerCalls(events, "handBack").map((e) => e.attempt)).toEqual([1, 1]);
      expect(handlerCalls(events, "success")[0]).toMatchObject({ attempt: 1, result: "placed" });
      expect(handlerCalls(events, "retry")).toHaveLength(0);
      expect(handlerCalls(events, "failure")).toHaveLength(0);
    });

    it("does not retry a plain Error", async () => {
      const { events, hooks } = recorder();
      let calls = 0;
      consume(
        q,
        {
          "vm:stop": () => {
            calls++;
            return Promise.reject(new Error("disk on fire"));
          },
        },
        { concurrency: 1, hooks },
      );
      await queue.enqueue("vm:stop", payload("p"), {
        jobId: "job-p",
        queue: q,
        attempts: 3,
        backoff: { type: "fixed", delayMs: 10 },
      });
      await waitFor(() => handlerCalls(events, "failure").length === 1, 5000, "onFailure");
      await sleep(100); // room for a wrong retry to show up
      expect(calls).toBe(1);
      expect(handlerCalls(events, "retry")).toHaveLength(0);
      const failures = handlerCalls(events, "failure");
      expect(failures).toHaveLength(1);
      expect(failures[0]?.attempt).toBe(1);
      expect(failures[0]?.error?.message).toContain("disk on fire");
    });

    it("treats a non-zero exit code as a result, not a failure", async () => {
      const { events, hooks } = recorder();
      let calls = 0;
      consume(
        q,
        {
          "vm:stop": () => {
            calls++;
            return Promise.resolve({ exitCode: 3 });
          },
        },
        { concurrency: 1, hooks },
      );
      await queue.enqueue("vm:stop", payload("e"), { jobId: "job-e", queue: q, attempts: 3 });
      await waitFor(() => handlerCalls(events, "success").length === 1, 5000, "onSuccess");
      await sleep(50);
      expect(calls).toBe(1);
      expect(handlerCalls(events, "success")[0]?.result).toEqual({ exitCode: 3 });
      expect(handlerCalls(events, "failure")).toHaveLength(0);
      expect(handlerCalls(events, "retry")).toHaveLength(0);
    });

    it("aborts the signal on timeout and fails with JobTimeoutError, without retry", async () => {
      const { events, hooks } = recorder();
      const aborted: boolean[] = [];
      consume(
        q,
        {
          "vm:stop": async (ctx) => {
            aborted.push(await untilAborted(ctx.signal, 5000));
            return "too late";
          },
        },
        { concurrency: 1, hooks },
      );
      const t0 = Date.now();
      await queue.enqueue("vm:stop", payload("t"), {
        jobId: "job-t",
        queue: q,
        timeoutMs: 60,
        attempts: 3,
      });
      await waitFor(() => handlerCalls(events, "failure").length === 1, 5000, "onFailure");
      expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
      await waitFor(() => aborted.length === 1, 1000, "the handler to see its signal");
      expect(aborted).toEqual([true]);
      const error = handlerCalls(events, "failure")[0]?.error;
      expect(error).toBeInstanceOf(JobTimeoutError);
      expect((error as JobTimeoutError).timeoutMs).toBe(60);
      await sleep(100);
      expect(handlerCalls(events, "start")).toHaveLength(1);
      expect(handlerCalls(events, "retry")).toHaveLength(0);
    });

    it("removes a job cancelled before it started; its handler never runs", async () => {
      const { events, hooks } = recorder();
      await queue.enqueue("vm:stop", payload("c1"), { jobId: "job-c1", queue: q });
      await queue.enqueue("vm:stop", payload("c2"), { jobId: "job-c2", queue: q, delayMs: 10_000 });
      expect(await queue.cancel("job-c1", q)).toBe("removed");
      expect(await queue.cancel("job-c2", q)).toBe("removed");
      expect(await queue.cancel("job-nope", q)).toBe("not_found");
      expect(await queue.counts(q)).toEqual({ waiting: 0, active: 0, delayed: 0 });
      const ran: string[] = [];
      consume(
        q,
        {
          "vm:stop": (ctx) => {
            ran.push(ctx.id);
            return Promise.resolve();
          },
        },
        { concurrency: 1, hooks },
      );
      await queue.enqueue("vm:stop", payload("m"), { jobId: "job-marker", queue: q });
      await waitFor(() => handlerCalls(events, "success").length === 1, 5000, "the marker job");
      expect(ran).toEqual(["job-marker"]);
    });

    it("signals a running job on cancel; it fails with JobCancelledError and is not retried", async () => {
      const { events, hooks } = recorder();
      const aborted: boolean[] = [];
      let calls = 0;
      consume(
        q,
        {
          "vm:stop": async (ctx) => {
            calls++;
            aborted.push(await untilAborted(ctx.signal, 5000));
          },
        },
        { concurrency: 1, hooks },
      );
      await queue.enqueue("vm:stop", payload("x"), {
        jobId: "job-x",
        queue: q,
        attempts: 3,
        backoff: { type: "fixed", delayMs: 10 },
      });
      await waitFor(() => handlerCalls(events, "start").length === 1, 5000, "the job to start");
      expect(await queue.cancel("job-x", q)).toBe("signalled");
      await waitFor(() => handlerCalls(events, "failure").length === 1, 5000, "onFailure");
      await waitFor(() => aborted.length === 1, 1000, "the handler to see its signal");
      expect(aborted).toEqual([true]);
      expect(handlerCalls(events, "failure")[0]?.error).toBeInstanceOf(JobCancelledError);
      await sleep(100);
      expect(calls).toBe(1);
      expect(handlerCalls(events, "retry")).toHaveLength(0);
      await waitUntil(async () => (await queue.counts(q)).active === 0, 2000, "the job to finish");
      expect(await queue.counts(q)).toEqual({ waiting: 0, active: 0, delayed: 0 });
    });

    it("runs higher priority first, FIFO within a priority", async () => {
      const order: string[] = [];
      const c = consume(
        q,
        {
          "vm:stop": (ctx) => {
            order.push(ctx.id);
            return Promise.resolve();
          },
        },
        { concurrency: 1 },
      );
      // Give the consumer time to block waiting for work: pausing must hold even then.
      await sleep(100);
      await c.pause();
      await queue.enqueue("vm:stop", payload("low"), { jobId: "low", queue: q, priority: 10 });
      await queue.enqueue("vm:stop", payload("high"), { jobId: "high", queue: q, priority: 90 });
      await queue.enqueue("vm:stop", payload("mid1"), { jobId: "mid1", queue: q, priority: 50 });
      await queue.enqueue("vm:stop", payload("mid2"), { jobId: "mid2", queue: q, priority: 50 });
      await queue.enqueue("vm:stop", payload("none"), { jobId: "none", queue: q });
      await sleep(50);
      expect(order).toEqual([]);
      expect((await queue.counts(q)).waiting).toBe(5);
      c.resume();
      await waitFor(() => order.length === 5, 5000, "all five jobs");
      expect(order).toEqual(["high", "mid1", "mid2", "low", "none"]);
    });

    it("holds a delayed job back", async () => {
      const startedAt: number[] = [];
      consume(
        q,
        {
          "vm:stop": () => {
            startedAt.push(Date.now());
            return Promise.resolve();
          },
        },
        { concurrency: 1 },
      );
      const t0 = Date.now();
      await queue.enqueue("vm:stop", payload("d"), { jobId: "job-d", queue: q, delayMs: 150 });
      expect(await queue.counts(q)).toMatchObject({ delayed: 1, waiting: 0 });
      await waitFor(() => startedAt.length === 1, 5000, "the delayed job");
      expect((startedAt[0] ?? 0) - t0).toBeGreaterThanOrEqual(145);
    });

    it("never runs more handlers at once than the consumer's concurrency", async () => {
      let running = 0;
      let maxRunning = 0;
      let done = 0;
      consume(
        q,
        {
          "vm:stop": async () => {
            running++;
            maxRunning = Math.max(maxRunning, running);
            await sleep(40);
            running--;
            done++;
          },
        },
        { concurrency: 3 },
      );
      for (let i = 0; i < 9; i++) {
        await queue.enqueue("vm:stop", payload(`k${i}`), { jobId: `job-k${i}`, queue: q });
      }
      await waitFor(() => done === 9, 5000, "all nine jobs");
      expect(maxRunning).toBe(3);
    });

    it("runs a job once when its jobId is enqueued twice", async () => {
      const ran: string[] = [];
      let finished = 0;
      let release = (): void => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      await queue.enqueue("vm:stop", payload("dup1"), { jobId: "job-dup", queue: q });
      await queue.enqueue("vm:stop", payload("dup2"), { jobId: "job-dup", queue: q });
      expect((await queue.counts(q)).waiting).toBe(1);
      consume(
        q,
        {
          "vm:stop": async (ctx) => {
            ran.push(ctx.payload.vmId);
            await Promise.race([gate, sleep(5000)]);
            finished++;
          },
        },
        { concurrency: 2 },
      );
      await waitFor(() => ran.length === 1, 5000, "the job");
      // While it is active, a third enqueue is a no-op too.
      await queue.enqueue("vm:stop", payload("dup3"), { jobId: "job-dup", queue: q });
      expect(await queue.counts(q)).toEqual({ waiting: 0, active: 1, delayed: 0 });
      release();
      await waitFor(() => finished === 1, 5000, "the job to finish");
      await sleep(100);
      expect(ran).toEqual(["vm-dup1"]);
    });

    it("keeps queues apart: a consumer of A never runs a job of B", async () => {
      const qb = `${q}-b`;
      const ran: string[] = [];
      consume(
        q,
        {
          "vm:stop": (ctx) => {
            ran.push(`${ctx.queue}/${ctx.id}`);
            return Promise.resolve();
          },
        },
        { concurrency: 2 },
      );
      await queue.enqueue("vm:stop", payload("b"), { jobId: "job-b", queue: qb });
      await queue.enqueue("vm:stop", payload("a"), { jobId: "job-a", queue: q });
      await waitFor(() => ran.length === 1, 5000, "the job of A");
      await sleep(100);
      expect(ran).toEqual([`${q}/job-a`]);
      expect(await queue.counts(qb)).toEqual({ waiting: 1, active: 0, delayed: 0 });
      expect(await queue.cancel("job-b", qb)).toBe("removed");
    });

    it("force-closing a consumer aborts running handlers with JobShutdownError, calling no hook", async () => {
      const { events, hooks } = recorder();
      const reasons: unknown[] = [];
      const c = consume(
        q,
        {
          "vm:stop": async (ctx) => {
            await untilAborted(ctx.signal, 5000);
            reasons.push(ctx.signal.reason);
          },
        },
        { concurrency: 1, hooks },
      );
      await queue.enqueue("vm:stop", payload("s"), { jobId: "job-s", queue: q, attempts: 3 });
      await waitFor(() => handlerCalls(events, "start").length === 1, 5000, "the job to start");
      await c.close(true);
      await waitFor(() => reasons.length === 1, 1000, "the handler to see its signal");
      expect(reasons[0]).toBeInstanceOf(JobShutdownError);
      expect(events.map((e) => e.hook)).toEqual(["start"]);
    });
  });
}
