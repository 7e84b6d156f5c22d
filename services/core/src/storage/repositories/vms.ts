import { sql, type Kysely, type Selectable, type UpdateObject } from "kysely";
import {
  decodeCursor,
  isUuid,
  keysetPage,
  pageSize,
  type Page,
  type PageOptions,
} from "../cursor.js";
import type { Database, JsonObject, VmOnTimeout, VmStatus, VmsTable } from "../database.js";
import { TokenSealer } from "../token-sealer.js";

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
  readonly onTimeout?: VmOnTimeout;
  readonly expiresAt?: Date | null;
  readonly metadata?: JsonObject;
  /** Why it waits to be placed, when it is known at once (every worker full). */
  readonly pendingReason?: string | null;
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
  "paused",
  "stopping",
  "stopped",
  "deleting",
];

/** Sandbox records. Deleted sandboxes keep their row (status `deleted`, `deletedAt` set). */
export class VmRepository {
  readonly #db: Kysely<Database>;
  readonly #envSealer: TokenSealer;

  /**
   * `sealer`: seals env values at rest (a key of their own derived from it); the process-local
   * key when left out.
   */
  constructor(db: Kysely<Database>, sealer?: TokenSealer) {
    this.#db = db;
    this.#envSealer = (sealer ?? TokenSealer.processLocal()).forPurpose("aetherium sandbox env");
  }

  /**
   * Env values as stored: each sealed (AES-256-GCM), bound to its variable name. Names stay in
   * clear: the API shows them (values masked).
   */
  sealEnv(env: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(env).map(([name, value]) => [
        name,
        this.#envSealer.seal(value, `env:${name}`),
      ]),
    );
  }

  /**
   * The env of a row, opened. A value written before values were sealed is returned as it is;
   * one that does not open here (another key) is an error naming the variable, never a silent
   * empty value.
   */
  openEnv(row: Pick<VmRow, "id" | "env">): Record<string, string> {
    return Object.fromEntries(
      Object.entries(row.env).map(([name, stored]) => {
        if (!TokenSealer.isSealed(stored)) return [name, stored];
        const value = this.#envSealer.open(stored, `env:${name}`);
        if (value === undefined) {
          throw new Error(
            `env ${name} of sandbox ${row.id} does not open with this process's encryption key (give every gateway and worker the same AETHERIUM_ENCRYPTION_KEY)`,
          );
        }
        return [name, value];
      }),
    );
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
        env: json(input.env && this.sealEnv(input.env)),
        network: json(input.network),
        tools: json(input.tools),
        timeoutSec: input.timeoutSec,
        onTimeout: input.onTimeout,
        expiresAt: input.expiresAt,
        metadata: json(input.metadata),
        pendingReason: input.pendingReason ?? null,
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

  /**
   * Claims the sandbox for `workerId` (status `from` → `to`, owner set, error and pending reason
   * cleared) only if it fits the worker's capacity counted from the sandbox rows themselves, not
   * from heartbeats. The worker's row is locked for the transaction, so concurrent claims on one
   * worker are serialised and never overshoot. A worker without a row, or registered without any
   * capacity (0 vCPUs, 0 MB, 0 sandboxes), is not limited. `full` gives the worker and what its
   * live sandboxes use.
   */
  async claimWithinCapacity(
    id: string,
    workerId: string,
    from: readonly VmStatus[],
    to: VmStatus,
  ): Promise<
    | { readonly kind: "claimed"; readonly row: VmRow }
    | { readonly kind: "full"; readonly worker: WorkerCapacityView }
    | { readonly kind: "gone" }
  > {
    if (!isUuid(id) || from.length === 0) return { kind: "gone" };
    return this.#db.transaction().execute(async (tx) => {
      const worker = await tx
        .selectFrom("workers")
        .select(["id", "capacityVcpus", "capacityMemoryMb", "maxVms"])
        .where("id", "=", workerId)
        .forUpdate()
        .executeTakeFirst();
      const vm = await tx
        .selectFrom("vms")
        .select(["status", "vcpus", "memoryMb"])
        .where("id", "=", id)
        .executeTakeFirst();
      if (!vm || !from.includes(vm.status)) return { kind: "gone" as const };
      if (worker) {
        const used = await liveUsage(tx, workerId, id);
        const view: WorkerCapacityView = {
          id: worker.id,
          capacity: {
            vcpus: worker.capacityVcpus,
            memoryMb: worker.capacityMemoryMb,
            maxVms: worker.maxVms,
          },
          used,
        };
        if (!fits(view, vm)) return { kind: "full" as const, worker: view };
      }
      const row = await tx
        .updateTable("vms")
        .set({ status: to, workerId, error: null, pendingReason: null })
        .where("id", "=", id)
        .where("status", "in", from)
        .returningAll()
        .executeTakeFirst();
      return row ? { kind: "claimed" as const, row } : { kind: "gone" as const };
    });
  }

  /**
   * Every worker that is `active` (and runs `backend`, in `zone`, when given), with its capacity
   * and what its live sandboxes use, counted from the sandbox rows.
   */
  async fleetCapacity(backend?: string, zone?: string): Promise<WorkerCapacityView[]> {
    const workers = await this.#db
      .selectFrom("workers")
      .select(["id", "capacityVcpus", "capacityMemoryMb", "maxVms", "backends", "zone"])
      .where("status", "=", "active")
      .orderBy("id")
      .execute();
    const out: WorkerCapacityView[] = [];
    for (const w of workers) {
      const backends = Array.isArray(w.backends) ? w.backends : [];
      if (backend !== undefined && !backends.includes(backend)) continue;
      if (zone && w.zone !== zone) continue;
      out.push({
        id: w.id,
        backends,
        zone: w.zone,
        capacity: { vcpus: w.capacityVcpus, memoryMb: w.capacityMemoryMb, maxVms: w.maxVms },
        used: await liveUsage(this.#db, w.id),
      });
    }
    return out;
  }

  /** Records why a pending sandbox is still waiting (only while it is `pending`). */
  async setPendingReason(id: string, reason: string | null): Promise<VmRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db
      .updateTable("vms")
      .set({ pendingReason: reason })
      .where("id", "=", id)
      .where("status", "=", "pending")
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
  async listByWorker(workerId: string, backend?: string): Promise<VmRow[]> {
    return this.#db
      .selectFrom("vms")
      .selectAll()
      .where("workerId", "=", workerId)
      .$if(backend !== undefined, (q) => q.where("backend", "=", backend!))
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
      readonly onTimeout?: VmOnTimeout;
      readonly expiresAt: Date | null;
    },
  ): Promise<VmRow | undefined> {
    const { rows } = await sql<VmRow>`
      UPDATE vms SET
        name = ${claim.name},
        tenant = ${claim.tenant ?? "default"},
        labels = ${JSON.stringify(claim.labels)}::jsonb,
        env = ${JSON.stringify(this.sealEnv(claim.env))}::jsonb,
        timeout_sec = ${claim.timeoutSec},
        on_timeout = ${claim.onTimeout ?? "delete"},
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
  async countWarm(workerId: string, image: string, backend?: string): Promise<number> {
    const row = await this.#db
      .selectFrom("vms")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("workerId", "=", workerId)
      .$if(backend !== undefined, (q) => q.where("backend", "=", backend!))
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

/** A worker's capacity and what its live sandboxes use (see {@link VmRepository.fleetCapacity}). */
export interface WorkerCapacityView {
  readonly id: string;
  /** Backends it runs (set by {@link VmRepository.fleetCapacity}). */
  readonly backends?: readonly string[];
  /** Its zone, if any (set by {@link VmRepository.fleetCapacity}). */
  readonly zone?: string | null;
  readonly capacity: { readonly vcpus: number; readonly memoryMb: number; readonly maxVms: number };
  readonly used: { readonly vcpus: number; readonly memoryMb: number; readonly vms: number };
}

// Sandboxes that hold their worker's resources: everything until it is stopped, deleted,
// failed or lost. A paused one keeps its memory (and the vCPUs it resumes with).
const HOLDING: readonly VmStatus[] = ["pending", "creating", "running", "paused", "stopping"];

async function liveUsage(
  db: Kysely<Database>,
  workerId: string,
  except?: string,
): Promise<{ vcpus: number; memoryMb: number; vms: number }> {
  let q = db
    .selectFrom("vms")
    .select((eb) => [
      eb.fn.coalesce(eb.fn.sum<number>("vcpus"), eb.lit(0)).as("vcpus"),
      eb.fn.coalesce(eb.fn.sum<number>("memoryMb"), eb.lit(0)).as("memoryMb"),
      eb.fn.countAll<number>().as("vms"),
    ])
    .where("workerId", "=", workerId)
    .where("status", "in", HOLDING);
  if (except !== undefined) q = q.where("id", "!=", except);
  const row = await q.executeTakeFirstOrThrow();
  return { vcpus: Number(row.vcpus), memoryMb: Number(row.memoryMb), vms: Number(row.vms) };
}

/**
 * A worker registered without any capacity (all zero: the registration's defaults) has none
 * recorded, and admission does not limit it.
 */
function noCapacityRecorded(worker: WorkerCapacityView): boolean {
  const c = worker.capacity;
  return c.vcpus === 0 && c.memoryMb === 0 && c.maxVms === 0;
}

/** Whether one more sandbox of `size` fits the worker now. */
export function fits(
  worker: WorkerCapacityView,
  size: { readonly vcpus: number; readonly memoryMb: number },
): boolean {
  if (noCapacityRecorded(worker)) return true;
  return (
    worker.used.vms + 1 <= worker.capacity.maxVms &&
    worker.used.vcpus + size.vcpus <= worker.capacity.vcpus &&
    worker.used.memoryMb + size.memoryMb <= worker.capacity.memoryMb
  );
}

/** Whether a sandbox of `size` could ever run on the worker (fits its whole capacity). */
export function couldEverFit(
  worker: WorkerCapacityView,
  size: { readonly vcpus: number; readonly memoryMb: number },
): boolean {
  if (noCapacityRecorded(worker)) return true;
  return (
    worker.capacity.maxVms >= 1 &&
    size.vcpus <= worker.capacity.vcpus &&
    size.memoryMb <= worker.capacity.memoryMb
  );
}

/**
 * Why a sandbox of `size` waits, in words a user can act on, given the active workers that could
 * run it, e.g. "waiting for capacity: all 2 workers full for 1 vCPU and 512 MB (4/4 vCPUs,
 * 1024/8192 MB memory, 2/20 sandboxes)".
 */
export function waitingReason(
  workers: readonly WorkerCapacityView[],
  size: { readonly vcpus: number; readonly memoryMb: number },
  where = "",
): string {
  if (workers.length === 0) return `waiting for a worker: no active worker runs it${where}`;
  const n = workers.length;
  const full = workers.filter((w) => !fits(w, size)).length;
  if (full < n) {
    return `waiting for a worker to take it (${full} of ${n} worker${n === 1 ? "" : "s"} full)`;
  }
  const sum = (f: (w: WorkerCapacityView) => number) => workers.reduce((k, w) => k + f(w), 0);
  const parts = [
    `${sum((w) => w.used.vcpus)}/${sum((w) => w.capacity.vcpus)} vCPUs`,
    `${sum((w) => w.used.memoryMb)}/${sum((w) => w.capacity.memoryMb)} MB memory`,
    `${sum((w) => w.used.vms)}/${sum((w) => w.capacity.maxVms)} sandboxes`,
  ];
  return (
    `waiting for capacity: all ${n} worker${n === 1 ? "" : "s"}${where} full for ` +
    `${size.vcpus} vCPU${size.vcpus === 1 ? "" : "s"} and ${size.memoryMb} MB (${parts.join(", ")})`
  );
}
