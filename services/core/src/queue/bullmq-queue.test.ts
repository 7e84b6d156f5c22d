import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createTestRedis, type TestRedis } from "@aetherium/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BullmqJobQueue } from "./bullmq-queue.js";
import type { Consumer, JobContext } from "./job-queue.js";
import { describeJobQueueContract, sleep, waitFor, waitUntil } from "./queue-contract.js";

let redis: TestRedis;
let n = 0;

beforeAll(async () => {
  redis = await createTestRedis();
});

afterAll(async () => {
  await redis.cleanup();
});

/** A fresh BullMQ key prefix under the fixture's, so its cleanup removes every key BullMQ wrote. */
function freshPrefix(): string {
  return `${redis.prefix}q${n++}`;
}

describeJobQueueContract("bullmq", () => {
  const queue = new BullmqJobQueue({ connection: redis.url, prefix: freshPrefix() });
  return Promise.resolve({ queue, cleanup: () => queue.close() });
});

// Short lock and stalled check, so a dead worker's job comes back within ~2 s.
const LOCK_MS = 1000;
const STALLED_MS = 500;

const CORE_DIR = fileURLToPath(new URL("../../", import.meta.url));
const FIXTURE = fileURLToPath(new URL("./fixtures/child-consumer.ts", import.meta.url));

interface ChildEvent {
  readonly event: string;
  readonly id?: string;
  readonly attempt?: number;
  readonly reason?: string;
  readonly error?: string;
}

interface Child {
  readonly proc: ChildProcess;
  readonly events: ChildEvent[];
  readonly exited: Promise<void>;
}

describe("BullmqJobQueue across processes", () => {
  const children = new Set<Child>();
  const queues: BullmqJobQueue[] = [];
  const consumers: Consumer[] = [];

  /**
   * Starts `fixtures/child-consumer.ts` in a separate Node process. Plain `node --import tsx`
   * rather than the tsx CLI: the CLI forks a second process, and kill -9 must hit the consumer.
   */
  function spawnChild(mode: "hang" | "wait-abort", prefix: string, queue: string): Child {
    const proc = spawn(
      process.execPath,
      ["--conditions=@aetherium/source", "--import", "tsx", FIXTURE],
      {
        cwd: CORE_DIR,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          CHILD_MODE: mode,
          CHILD_QUEUE: queue,
          CHILD_REDIS_URL: redis.url,
          CHILD_PREFIX: prefix,
          CHILD_LOCK_MS: String(LOCK_MS),
          CHILD_STALLED_MS: String(STALLED_MS),
        },
      },
    );
    const events: ChildEvent[] = [];
    const stderr: string[] = [];
    createInterface({ input: proc.stdout }).on("line", (line) => {
      try {
        events.push(JSON.parse(line) as ChildEvent);
      } catch {
        stderr.push(line);
      }
    });
    proc.stderr.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    const child = { proc, events, exited };
    children.add(child);
    void exited.then(() => {
      if (proc.exitCode !== 0 && proc.signalCode !== "SIGKILL" && stderr.length > 0) {
        console.error(`child consumer failed:\n${stderr.join("")}`);
      }
    });
    return child;
  }

  function localQueue(prefix: string): BullmqJobQueue {
    const queue = new BullmqJobQueue({
      connection: redis.url,
      prefix,
      lockDurationMs: LOCK_MS,
      stalledIntervalMs: STALLED_MS,
    });
    queues.push(queue);
    return queue;
  }

  afterEach(async () => {
    for (const child of children) {
      if (child.proc.exitCode === null && child.proc.signalCode === null)
        child.proc.kill("SIGKILL");
      await Promise.race([child.exited, sleep(5000)]);
    }
    children.clear();
    await Promise.all(consumers.splice(0).map((c) => c.close(true)));
    await Promise.all(queues.splice(0).map((q) => q.close()));
  });

  it("hands the job of a killed worker to another one, once, with recovered: true", async () => {
    const prefix = freshPrefix();
    const queueName = "create:stall";
    const queue = localQueue(prefix);
    const child = spawnChild("hang", prefix, queueName);
    await waitFor(
      () => child.events.some((e) => e.event === "ready"),
      15_000,
      "the child to start",
    );
    await queue.enqueue(
      "vm:stop",
      { taskId: "task-s", vmId: "vm-s" },
      { jobId: "job-stall", queue: queueName },
    );
    await waitFor(
      () => child.events.some((e) => e.event === "started"),
      10_000,
      "the child to take the job",
    );
    expect(child.events.find((e) => e.event === "started")).toMatchObject({
      id: "job-stall",
      attempt: 1,
    });
    expect(await queue.counts(queueName)).toMatchObject({ active: 1 });

    child.proc.kill("SIGKILL");
    await child.exited;

    const runs: JobContext[] = [];
    const failures: Error[] = [];
    consumers.push(
      queue.consume(
        queueName,
        {
          "vm:stop": (ctx) => {
            runs.push(ctx);
            return Promise.resolve("done");
          },
        },
        { concurrency: 2, hooks: { onFailure: (_ctx, err) => void failures.push(err) } },
      ),
    );
    await waitFor(() => runs.length === 1, 10_000, "the stalled job to come back");
    expect(runs[0]).toMatchObject({ id: "job-stall", attempt: 1, recovered: true });
    // Several more stalled checks: it must not run (or be failed) a second time.
    await sleep(3 * STALLED_MS + LOCK_MS);
    expect(runs).toHaveLength(1);
    expect(failures).toEqual([]);
    await waitUntil(
      async () => (await queue.counts(queueName)).active === 0,
      3000,
      "the job to finish",
    );
  });

  it("cancels a job running in another process", async () => {
    const prefix = freshPrefix();
    const queueName = "worker:remote";
    const queue = localQueue(prefix);
    const child = spawnChild("wait-abort", prefix, queueName);
    await waitFor(
      () => child.events.some((e) => e.event === "ready"),
      15_000,
      "the child to start",
    );
    await queue.enqueue(
      "vm:stop",
      { taskId: "task-c", vmId: "vm-c" },
      {
        jobId: "job-remote",
        queue: queueName,
        attempts: 3,
        backoff: { type: "fixed", delayMs: 10 },
      },
    );
    await waitFor(
      () => child.events.some((e) => e.event === "started"),
      10_000,
      "the child to take the job",
    );

    expect(await queue.cancel("job-remote", queueName)).toBe("signalled");
    await waitFor(
      () => child.events.some((e) => e.event === "failure"),
      5000,
      "the child's onFailure",
    );
    expect(child.events.filter((e) => e.event !== "ready")).toEqual([
      { event: "started", id: "job-remote", attempt: 1 },
      { event: "aborted", id: "job-remote", reason: "JobCancelledError" },
      { event: "failure", id: "job-remote", error: "JobCancelledError" },
    ]);
    // Failed for good: not waiting for a retry, not active.
    await waitUntil(
      async () => (await queue.counts(queueName)).active === 0,
      3000,
      "the job to end",
    );
    expect(await queue.counts(queueName)).toEqual({ waiting: 0, active: 0, delayed: 0 });
    expect(await queue.cancel("job-remote", queueName)).toBe("not_found");

    child.proc.kill("SIGTERM");
    await Promise.race([child.exited, sleep(5000)]);
    expect(child.proc.exitCode).toBe(0);
  });
});
