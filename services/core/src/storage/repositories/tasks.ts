import { randomUUID } from "node:crypto";
import { sql, type Kysely, type Selectable, type UpdateObject } from "kysely";
import {
  decodeCursor,
  isUuid,
  keysetPage,
  pageSize,
  type Page,
  type PageOptions,
} from "../cursor.js";
import type { Database, JsonValue, TaskStatus, TasksTable } from "../database.js";
import { MicroBatcher } from "../micro-batcher.js";

/** A row of `tasks`. */
export type TaskRow = Selectable<TasksTable>;

/** What {@link TaskRepository.create} needs; everything else has a default. */
export interface NewTask {
  /** Chosen by the caller when the payload must carry it (jobs embed their task id). */
  readonly id?: string;
  readonly type: string;
  readonly tenant?: string;
  /** `pending` (default) or `queued` when the job is enqueued in the same breath. */
  readonly status?: "pending" | "queued";
  readonly queue?: string;
  readonly priority?: number;
  readonly payload?: JsonValue;
  readonly vmId?: string | null;
  /** Default 1: only idempotent task types should allow more. */
  readonly maxAttempts?: number;
  readonly idempotencyKey?: string | null;
  readonly scheduledAt?: Date;
}

/** Filters of {@link TaskRepository.list}. */
export interface TaskFilter extends PageOptions {
  readonly tenant?: string;
  readonly status?: TaskStatus | readonly TaskStatus[];
  readonly type?: string | readonly string[];
  readonly vmId?: string;
  readonly workerId?: string;
}

const UNFINISHED: readonly TaskStatus[] = ["pending", "queued", "running"];

interface SuccessInput {
  readonly id: string;
  readonly result: JsonValue;
  /** Set for {@link TaskRepository.markSucceededDirectly}. */
  readonly fast: { readonly workerId: string; readonly startedAt: Date } | null;
}

/**
 * The durable task records. Every state change is a guarded UPDATE: it only happens from the
 * states where it makes sense, and returns `undefined` otherwise (the task is unknown, already
 * finished, or someone else moved it first), so two workers can never both complete one task.
 */
export class TaskRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Inserts a task. A repeated idempotency key in the same tenant is a unique violation.
   * Concurrent calls are written as one multi-row INSERT (see {@link MicroBatcher}).
   */
  async create(input: NewTask): Promise<TaskRow> {
    return this.#creates.add({ ...input, id: input.id ?? randomUUID() });
  }

  #insertValues(input: NewTask) {
    return {
      id: input.id,
      type: input.type,
      tenant: input.tenant,
      status: input.status,
      queue: input.queue,
      priority: input.priority,
      payload: input.payload === undefined ? undefined : JSON.stringify(input.payload),
      vmId: input.vmId,
      maxAttempts: input.maxAttempts,
      idempotencyKey: input.idempotencyKey,
      scheduledAt: input.scheduledAt,
    };
  }

  readonly #creates = new MicroBatcher<NewTask, TaskRow>(
    async (inputs) => {
      const rows = await this.#db
        .insertInto("tasks")
        .values(inputs.map((i) => this.#insertValues(i)))
        .returningAll()
        .execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      return inputs.map((i) => byId.get(i.id!)!);
    },
    (input) =>
      this.#db
        .insertInto("tasks")
        .values(this.#insertValues(input))
        .returningAll()
        .executeTakeFirstOrThrow(),
  );

  /**
   * Records work that was done the moment it was asked for (a sandbox claimed from the warm
   * pool): one row, already `succeeded`, so the request still leaves its durable record.
   */
  async createCompleted(
    input: NewTask & { readonly workerId: string | null; readonly result: JsonValue },
  ): Promise<TaskRow> {
    return this.#db
      .insertInto("tasks")
      .values({
        ...this.#insertValues({ ...input, id: input.id ?? randomUUID() }),
        status: "succeeded",
        workerId: input.workerId,
        attempts: 1,
        result: JSON.stringify(input.result),
        startedAt: sql<Date>`now()`,
        completedAt: sql<Date>`now()`,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** How many batched writes failed and were redone one by one (see {@link MicroBatcher}). */
  get batchFailures(): number {
    return this.#creates.batchFailures + this.#successes.batchFailures;
  }

  /** The task, or undefined (also for ids that are not UUIDs). */
  async get(id: string): Promise<TaskRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db.selectFrom("tasks").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** The task created earlier with this `Idempotency-Key`, if any. */
  async findByIdempotencyKey(key: string, tenant = "default"): Promise<TaskRow | undefined> {
    return this.#db
      .selectFrom("tasks")
      .selectAll()
      .where("tenant", "=", tenant)
      .where("idempotencyKey", "=", key)
      .executeTakeFirst();
  }

  /** Newest first, filtered, one page at a time. Throws InvalidCursorError on a bad cursor. */
  async list(filter: TaskFilter = {}): Promise<Page<TaskRow>> {
    const limit = pageSize(filter.limit);
    const after = filter.cursor ? decodeCursor(filter.cursor) : undefined;
    if (
      (filter.vmId !== undefined && !isUuid(filter.vmId)) ||
      emptyList(filter.status) ||
      emptyList(filter.type)
    ) {
      return { items: [], nextCursor: null };
    }
    let query = this.#db.selectFrom("tasks").selectAll();
    if (filter.tenant !== undefined) query = query.where("tenant", "=", filter.tenant);
    if (filter.status !== undefined) query = query.where("status", "in", asList(filter.status));
    if (filter.type !== undefined) query = query.where("type", "in", asList(filter.type));
    if (filter.vmId !== undefined) query = query.where("vmId", "=", filter.vmId);
    if (filter.workerId !== undefined) query = query.where("workerId", "=", filter.workerId);
    return keysetPage(query, "createdAt", after, limit, (t) => ({
      createdAt: t.createdAt,
      id: t.id,
    }));
  }

  /** pending → queued, once the job is in the queue. */
  async markQueued(id: string): Promise<TaskRow | undefined> {
    return this.#transition(id, ["pending"], { status: "queued" });
  }

  /**
   * pending|queued → running on `workerId`, counting the attempt. Refused once a cancel has been
   * requested, so a cancelled task that is still in the queue never starts.
   */
  async markRunning(id: string, workerId: string): Promise<TaskRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db
      .updateTable("tasks")
      .set((eb) => ({
        status: "running",
        workerId,
        attempts: eb("attempts", "+", 1),
        startedAt: sql<Date>`now()`,
      }))
      .where("id", "=", id)
      .where("status", "in", ["pending", "queued"])
      .where("cancelRequestedAt", "is", null)
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * running → queued, undoing the attempt {@link markRunning} counted: the worker that took the
   * job had no room for it and gave it back to its queue (not a failure, not a retry).
   */
  async markHandedBack(id: string): Promise<TaskRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db
      .updateTable("tasks")
      .set((eb) => ({
        status: "queued",
        workerId: null,
        startedAt: null,
        attempts: sql<number>`greatest(${eb.ref("attempts")} - 1, 0)`,
      }))
      .where("id", "=", id)
      .where("status", "=", "running")
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * running → running on `workerId`, counting a new attempt: for a job the queue recovered after
   * the worker that ran it died (its row still says running on the dead worker).
   */
  async claimRecovered(id: string, workerId: string): Promise<TaskRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db
      .updateTable("tasks")
      .set((eb) => ({
        workerId,
        attempts: eb("attempts", "+", 1),
        startedAt: sql<Date>`now()`,
      }))
      .where("id", "=", id)
      .where("status", "=", "running")
      .where("cancelRequestedAt", "is", null)
      .returningAll()
      .executeTakeFirst();
  }

  /** running → succeeded with its result. */
  async markSucceeded(id: string, result: JsonValue = null): Promise<TaskRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#successes.add({ id, result, fast: null });
  }

  /**
   * pending|queued → succeeded in one write, for a job that finished before its `running` mark
   * was due: records the worker, the attempt and when it really started. Refused (undefined) if
   * the task is no longer waiting — the caller then takes the ordinary path.
   */
  async markSucceededDirectly(
    id: string,
    workerId: string,
    startedAt: Date,
    result: JsonValue = null,
  ): Promise<TaskRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#successes.add({ id, result, fast: { workerId, startedAt } });
  }

  // Completions arrive from many concurrent handlers; one UPDATE … FROM (VALUES …) per batch.
  readonly #successes = new MicroBatcher<SuccessInput, TaskRow | undefined>(
    async (items) => {
      const values = sql.join(
        items.map(
          (i) =>
            sql`(${i.id}::uuid, ${JSON.stringify(i.result)}::jsonb, ${i.fast?.workerId ?? null}::text, ${i.fast?.startedAt ?? null}::timestamptz, ${i.fast !== null}::boolean)`,
        ),
      );
      const { rows } = await sql<TaskRow>`
        UPDATE tasks AS t SET
          status = 'succeeded',
          result = v.result,
          error = NULL,
          completed_at = now(),
          worker_id = CASE WHEN v.fast THEN v.worker_id ELSE t.worker_id END,
          attempts = CASE WHEN v.fast THEN t.attempts + 1 ELSE t.attempts END,
          started_at = CASE WHEN v.fast THEN v.started_at ELSE t.started_at END
        FROM (VALUES ${values}) AS v(id, result, worker_id, started_at, fast)
        WHERE t.id = v.id
          AND ((NOT v.fast AND t.status = 'running') OR (v.fast AND t.status IN ('pending', 'queued')))
        RETURNING t.*`.execute(this.#db);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return items.map((i) => byId.get(i.id));
    },
    async (i) => {
      const common = {
        status: "succeeded" as const,
        result: JSON.stringify(i.result),
        error: null,
        completedAt: sql<Date>`now()`,
      };
      if (!i.fast) return this.#transition(i.id, ["running"], common);
      const { workerId, startedAt } = i.fast;
      return this.#db
        .updateTable("tasks")
        .set((eb) => ({ ...common, workerId, startedAt, attempts: eb("attempts", "+", 1) }))
        .where("id", "=", i.id)
        .where("status", "in", ["pending", "queued"])
        .returningAll()
        .executeTakeFirst();
    },
  );

  /** Any unfinished state → failed, for good. */
  async markFailed(id: string, error: string): Promise<TaskRow | undefined> {
    return this.#transition(id, UNFINISHED, {
      status: "failed",
      error,
      completedAt: sql<Date>`now()`,
    });
  }

  /**
   * running → queued again after an infrastructure failure, to run at `retryAt` (default now).
   * Refused when no attempt is left (attempts ≥ max_attempts) or a cancel was requested: the
   * caller then marks the task failed or cancelled instead. With `onWorker`, only while it runs
   * on that worker.
   */
  async markRetrying(
    id: string,
    error: string,
    options: { retryAt?: Date; onWorker?: string } = {},
  ): Promise<TaskRow | undefined> {
    if (!isUuid(id)) return undefined;
    let query = this.#db
      .updateTable("tasks")
      .set({
        status: "queued",
        error,
        workerId: null,
        scheduledAt: options.retryAt ?? sql<Date>`now()`,
      })
      .where("id", "=", id)
      .where("status", "=", "running");
    // Only while it still runs there: another worker may have recovered it meanwhile.
    if (options.onWorker !== undefined) query = query.where("workerId", "=", options.onWorker);
    return query
      .where("cancelRequestedAt", "is", null)
      .where((eb) => eb("attempts", "<", eb.ref("maxAttempts")))
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Records that the user asked to cancel an unfinished task; the worker running it notices and
   * stops. Keeps the first request time when asked twice.
   */
  async requestCancel(id: string): Promise<TaskRow | undefined> {
    return this.#transition(id, UNFINISHED, {
      cancelRequestedAt: sql<Date>`coalesce(cancel_requested_at, now())`,
    });
  }

  /** Any unfinished state → cancelled. */
  async markCancelled(id: string): Promise<TaskRow | undefined> {
    return this.#transition(id, UNFINISHED, {
      status: "cancelled",
      cancelRequestedAt: sql<Date>`coalesce(cancel_requested_at, now())`,
      completedAt: sql<Date>`now()`,
    });
  }

  /** Tasks a worker had claimed and not finished: what to recover when it restarts or dies. */
  async listUnfinishedForWorker(workerId: string): Promise<TaskRow[]> {
    return this.#db
      .selectFrom("tasks")
      .selectAll()
      .where("workerId", "=", workerId)
      .where("status", "in", UNFINISHED)
      .orderBy("createdAt")
      .orderBy("id")
      .execute();
  }

  /**
   * Every unfinished task, oldest first: what a single-process install finds left over from the
   * process before it.
   */
  async listUnfinished(): Promise<TaskRow[]> {
    return this.#db
      .selectFrom("tasks")
      .selectAll()
      .where("status", "in", UNFINISHED)
      .orderBy("createdAt")
      .orderBy("id")
      .execute();
  }

  /** Unfinished tasks whose job sits in `queue`: what is stranded when that queue's worker dies. */
  async listUnfinishedInQueue(queue: string): Promise<TaskRow[]> {
    return this.#db
      .selectFrom("tasks")
      .selectAll()
      .where("queue", "=", queue)
      .where("status", "in", UNFINISHED)
      .orderBy("createdAt")
      .orderBy("id")
      .execute();
  }

  /** Failed tasks per queue, for cluster stats (BullMQ trims its own failed lists). */
  async countFailedByQueue(): Promise<Record<string, number>> {
    const rows = await this.#db
      .selectFrom("tasks")
      .select((eb) => ["queue", eb.fn.countAll<number>().as("n")])
      .where("status", "=", "failed")
      .groupBy("queue")
      .execute();
    return Object.fromEntries(rows.map((r) => [r.queue, Number(r.n)]));
  }

  async #transition(
    id: string,
    from: readonly TaskStatus[],
    changes: UpdateObject<Database, "tasks">,
  ): Promise<TaskRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db
      .updateTable("tasks")
      .set(changes)
      .where("id", "=", id)
      .where("status", "in", from)
      .returningAll()
      .executeTakeFirst();
  }
}

function asList<T>(value: T | readonly T[]): readonly T[] {
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

function emptyList<T>(value: T | readonly T[] | undefined): boolean {
  return Array.isArray(value) && value.length === 0;
}
