import { sql, type Kysely, type Selectable, type UpdateObject } from "kysely";
import {
  decodeCursor,
  isUuid,
  keysetPage,
  pageSize,
  type Page,
  type PageOptions,
} from "../cursor.js";
import type { Database, JsonObject, VmStatus, VmsTable } from "../database.js";

/** A row of `vms`. */
export type VmRow = Selectable<VmsTable>;

/** What {@link VmRepository.create} needs; everything else has a default. */
export interface NewVm {
  readonly name: string;
  readonly tenant?: string;
  readonly backend?: string | null;
  readonly status?: VmStatus;
  readonly image?: string | null;
  readonly vcpus?: number;
  readonly memoryMb?: number;
  readonly diskMb?: number | null;
  readonly workerId?: string | null;
  readonly labels?: Record<string, string>;
  readonly env?: Record<string, string>;
  readonly network?: JsonObject;
  readonly tools?: readonly string[];
  readonly timeoutSec?: number | null;
  readonly expiresAt?: Date | null;
  readonly metadata?: JsonObject;
}

/** Filters of {@link VmRepository.list}. */
export interface VmFilter extends PageOptions {
  readonly tenant?: string;
  /** Naming `deleted` here lists deleted sandboxes too. */
  readonly status?: VmStatus | readonly VmStatus[];
  readonly workerId?: string;
  /** Every pair must match (`?label=key=value`, repeatable). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Include deleted sandboxes even without a status filter (default false). */
  readonly includeDeleted?: boolean;
  /** Include unclaimed warm-pool sandboxes (hidden by default). */
  readonly includePool?: boolean;
}

/** Extra columns {@link VmRepository.updateStatus} may set along with the status. */
export interface VmStatusChanges {
  readonly error?: string | null;
  readonly workerId?: string | null;
  readonly expiresAt?: Date | null;
}

// The states a sandbox can still come back from: a vanished worker makes them unknowable.
const LOSABLE: readonly VmStatus[] = [
  "pending",
  "creating",
  "running",
  "stopping",
  "stopped",
  "deleting",
];

/** Sandbox records. Deleted sandboxes keep their row (status `deleted`, `deletedAt` set). */
export class VmRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Inserts a sandbox. A name already used by a live sandbox of the tenant is a unique violation
   * of `vms_tenant_name_live_key` (see `isUniqueViolation`).
   */
  async create(input: NewVm): Promise<VmRow> {
    return this.#db
      .insertInto("vms")
      .values({
        name: input.name,
        tenant: input.tenant,
        backend: input.backend,
        status: input.status,
        image: input.image,
        vcpus: input.vcpus,
        memoryMb: input.memoryMb,
        diskMb: input.diskMb,
        workerId: input.workerId,
        labels: json(input.labels),
        env: json(input.env),
        network: json(input.network),
        tools: json(input.tools),
        timeoutSec: input.timeoutSec,
        expiresAt: input.expiresAt,
        metadata: json(input.metadata),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** The sandbox (deleted ones too), or undefined (also for ids that are not UUIDs). */
  async get(id: string): Promise<VmRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db.selectFrom("vms").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** The live (not deleted) sandbox with this name in the tenant. */
  async getByName(name: string, tenant = "default"): Promise<VmRow | undefined> {
    return this.#db
      .selectFrom("vms")
      .selectAll()
      .where("tenant", "=", tenant)
      .where("name", "=", name)
      .where("deletedAt", "is", null)
      .executeTakeFirst();
  }

  /** Newest first, filtered, one page at a time. Throws InvalidCursorError on a bad cursor. */
  async list(filter: VmFilter = {}): Promise<Page<VmRow>> {
    const limit = pageSize(filter.limit);
    const after = filter.cursor ? decodeCursor(filter.cursor) : undefined;
    const statuses =
      filter.status === undefined
        ? undefined
        : Array.isArray(filter.status)
          ? (filter.status as readonly VmStatus[])
          : [filter.status as VmStatus];
    if (statuses?.length === 0) return { items: [], nextCursor: null };
    let query = this.#db.selectFrom("vms").selectAll();
    if (filter.tenant !== undefined) query = query.where("tenant", "=", filter.tenant);
    if (statuses) query = query.where("status", "in", statuses);
    else if (!filter.includeDeleted) query = query.where("deletedAt", "is", null);
    if (filter.workerId !== undefined) query = query.where("workerId", "=", filter.workerId);
    // Warm-pool sandboxes belong to no one yet; lists show them only when asked.
    if (!filter.includePool)
      query = query.where(sql<boolean>`coalesce(metadata->>'pool', '') <> 'warm'`);
    if (filter.labels && Object.keys(filter.labels).length > 0) {
      // jsonb containment, served by the GIN index on labels.
      query = query.where(sql<boolean>`labels @> ${JSON.stringify(filter.labels)}::jsonb`);
    }
    return keysetPage(query, "createdAt", after, limit, (vm) => ({
      createdAt: vm.createdAt,
      id: vm.id,
    }));
  }

  /**
   * Moves the sandbox to `next` only if its status is currently one of `expected` (optimistic
   * concurrency: a stop racing a delete cannot overwrite it). Returns the updated row, or
   * undefined when the status did not match (or the sandbox does not exist).
   *
   * Sets the matching timestamp: `readyAt` on the first `running`, `stoppedAt` on `stopped`,
   * `deletedAt` on `deleted` (which frees the name for reuse).
   */
  async updateStatus(
    id: string,
    expected: VmStatus | readonly VmStatus[],
    next: VmStatus,
    changes: VmStatusChanges = {},
  ): Promise<VmRow | undefined> {
    if (!isUuid(id)) return undefined;
    const from = Array.isArray(expected)
      ? (expected as readonly VmStatus[])
      : [expected as VmStatus];
    if (from.length === 0) return undefined;
    const update: UpdateObject<Database, "vms"> = { status: next };
    if (changes.error !== undefined) update.error = changes.error;
    if (changes.workerId !== undefined) update.workerId = changes.workerId;
    if (changes.expiresAt !== undefined) update.expiresAt = changes.expiresAt;
    if (next === "running") update.readyAt = sql<Date>`coalesce(ready_at, now())`;
    if (next === "stopped") update.stoppedAt = sql<Date>`now()`;
    if (next === "deleted") update.deletedAt = sql<Date>`coalesce(deleted_at, now())`;
    return this.#db
      .updateTable("vms")
      .set(update)
      .where("id", "=", id)
      .where("status", "in", from)
      .returningAll()
      .executeTakeFirst();
  }

  /** Records which worker owns the sandbox (and the backend it chose). */
  async assignWorker(
    id: string,
    workerId: string,
    backend?: string | null,
  ): Promise<VmRow | undefined> {
    if (!isUuid(id)) return undefined;
    const update: UpdateObject<Database, "vms"> = { workerId };
    if (backend !== undefined) update.backend = backend;
    return this.#db
      .updateTable("vms")
      .set(update)
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
  }

  /** The live sandboxes a worker owns: what it reconciles against its backend after a restart. */
  async listByWorker(workerId: string): Promise<VmRow[]> {
    return this.#db
      .selectFrom("vms")
      .selectAll()
      .where("workerId", "=", workerId)
      .where("deletedAt", "is", null)
      .orderBy("createdAt")
      .orderBy("id")
      .execute();
  }

  /**
   * Takes one running warm-pool sandbox of this shape and makes it the caller's: new name,
   * labels, env and expiry, no longer in the pool. `SKIP LOCKED` lets concurrent claims each get
   * a different one; undefined when the pool is empty.
   */
  async claimWarm(
    shape: {
      readonly backend: string;
      readonly image: string;
      readonly vcpus: number;
      readonly memoryMb: number;
    },
    claim: {
      readonly name: string;
      readonly tenant?: string;
      readonly labels: Record<string, string>;
      readonly env: Record<string, string>;
      readonly timeoutSec: number | null;
      readonly expiresAt: Date | null;
    },
  ): Promise<VmRow | undefined> {
    const { rows } = await sql<VmRow>`
      UPDATE vms SET
        name = ${claim.name},
        tenant = ${claim.tenant ?? "default"},
        labels = ${JSON.stringify(claim.labels)}::jsonb,
        env = ${JSON.stringify(claim.env)}::jsonb,
        timeout_sec = ${claim.timeoutSec},
        expires_at = ${claim.expiresAt},
        metadata = (metadata - 'pool') || '{"fromPool": true}'::jsonb
      WHERE id = (
        SELECT id FROM vms
        WHERE status = 'running' AND metadata->>'pool' = 'warm' AND worker_id IS NOT NULL
          AND backend = ${shape.backend} AND image = ${shape.image}
          AND vcpus = ${shape.vcpus} AND memory_mb = ${shape.memoryMb}
        ORDER BY created_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED
      )
      RETURNING *`.execute(this.#db);
    return rows[0];
  }

  /** Warm-pool sandboxes of one worker and image that are booting or ready. */
  async countWarm(workerId: string, image: string): Promise<number> {
    const row = await this.#db
      .selectFrom("vms")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("workerId", "=", workerId)
      .where("image", "=", image)
      .where("status", "in", ["pending", "creating", "running"])
      .where(sql<boolean>`metadata->>'pool' = 'warm'`)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Sets when the sandbox expires, if it is in one of `expected`; undefined otherwise. */
  async setExpiry(
    id: string,
    expected: readonly VmStatus[],
    expiresAt: Date,
    timeoutSec: number,
  ): Promise<VmRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db
      .updateTable("vms")
      .set({ expiresAt, timeoutSec })
      .where("id", "=", id)
      .where("status", "in", expected)
      .returningAll()
      .executeTakeFirst();
  }

  /** Sandboxes per status, deleted ones excluded: the dashboard's and cluster stats' totals. */
  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.#db
      .selectFrom("vms")
      .select((eb) => ["status", eb.fn.countAll<number>().as("n")])
      .where("status", "!=", "deleted")
      .groupBy("status")
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  /** What a worker's live sandboxes reserve: reported in its heartbeat, checked by placement. */
  async usageForWorker(
    workerId: string,
  ): Promise<{ vcpus: number; memoryMb: number; vms: number }> {
    const row = await this.#db
      .selectFrom("vms")
      .select((eb) => [
        eb.fn.coalesce(eb.fn.sum<number>("vcpus"), eb.lit(0)).as("vcpus"),
        eb.fn.coalesce(eb.fn.sum<number>("memoryMb"), eb.lit(0)).as("memoryMb"),
        eb.fn.countAll<number>().as("vms"),
      ])
      .where("workerId", "=", workerId)
      .where("status", "in", ["pending", "creating", "running", "stopping"])
      .executeTakeFirstOrThrow();
    return { vcpus: Number(row.vcpus), memoryMb: Number(row.memoryMb), vms: Number(row.vms) };
  }

  /**
   * pending|creating on `workerId` → pending on no worker, with `reason`: a create its worker
   * died in before the sandbox ran, to be placed again on a healthy worker. A worker that comes
   * back sees the row is no longer its own. Undefined when the row moved on meanwhile.
   */
  async unassignUnstarted(
    id: string,
    workerId: string,
    reason: string,
  ): Promise<VmRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db
      .updateTable("vms")
      .set({ status: "pending", workerId: null, error: reason })
      .where("id", "=", id)
      .where("workerId", "=", workerId)
      .where("status", "in", ["pending", "creating"])
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Marks every sandbox of a worker that went away as `lost` (unless already deleted, failed or
   * lost) and returns their ids, for events and clean-up.
   */
  async markLostForWorker(workerId: string, error = "worker lost"): Promise<string[]> {
    const rows = await this.#db
      .updateTable("vms")
      .set({ status: "lost", error })
      .where("workerId", "=", workerId)
      .where("status", "in", LOSABLE)
      .returning("id")
      .execute();
    return rows.map((r) => r.id);
  }
}

function json(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}
