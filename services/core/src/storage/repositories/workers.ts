import { sql, type Kysely, type Selectable } from "kysely";
import type { Database, WorkerStatus, WorkersTable } from "../database.js";
import { TokenSealer } from "../token-sealer.js";

/**
 * A row of `workers`. `internalToken` is the token itself: the column holds it sealed, and rows
 * come back opened (null when it does not open with this process's key).
 */
export type WorkerRow = Selectable<WorkersTable>;

/** What a worker reports when it registers (on every start). */
export interface WorkerRegistration {
  readonly id: string;
  readonly hostname: string;
  readonly address: string;
  readonly backends?: readonly string[];
  readonly zone?: string | null;
  readonly labels?: Record<string, string>;
  readonly capacity?: WorkerCapacity;
  readonly version?: string | null;
  /**
   * Bearer token its internal data-plane routes accept (fresh at each start); null: none. Stored
   * sealed with the repository's {@link TokenSealer}, never as given.
   */
  readonly internalToken?: string | null;
  /** When the worker process started (default now). */
  readonly startedAt?: Date;
}

/** Total capacity of a worker. */
export interface WorkerCapacity {
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly maxVms: number;
}

/** What a worker is using right now, sent with each heartbeat. */
export interface WorkerUsage {
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly vms: number;
}

/** Filters of {@link WorkerRepository.list}. */
export interface WorkerFilter {
  readonly status?: WorkerStatus;
  readonly zone?: string;
}

/**
 * The worker registry. Workers' internal tokens are sealed with `sealer` on the way in and opened
 * on the way out, so every process that must call a worker needs the same key (without one, a
 * key private to this process: fine for one process, useless to any other).
 */
export class WorkerRepository {
  readonly #db: Kysely<Database>;
  readonly #sealer: TokenSealer;

  constructor(db: Kysely<Database>, sealer: TokenSealer = TokenSealer.processLocal()) {
    this.#db = db;
    this.#sealer = sealer;
  }

  /**
   * Inserts or refreshes a worker. A restarted worker comes back `active`, except one an operator
   * drained: draining is a decision about the machine, and a restart must not undo it.
   */
  async register(input: WorkerRegistration): Promise<WorkerRow> {
    const values = {
      id: input.id,
      hostname: input.hostname,
      address: input.address,
      backends: JSON.stringify(input.backends ?? []),
      zone: input.zone ?? null,
      labels: JSON.stringify(input.labels ?? {}),
      capacityVcpus: input.capacity?.vcpus ?? 0,
      capacityMemoryMb: input.capacity?.memoryMb ?? 0,
      maxVms: input.capacity?.maxVms ?? 0,
      version: input.version ?? null,
      internalToken: input.internalToken ? this.#sealer.seal(input.internalToken, input.id) : null,
      startedAt: input.startedAt ?? new Date(),
    };
    const row = await this.#db
      .insertInto("workers")
      .values(values)
      .onConflict((oc) =>
        oc.column("id").doUpdateSet((eb) => ({
          hostname: eb.ref("excluded.hostname"),
          address: eb.ref("excluded.address"),
          backends: eb.ref("excluded.backends"),
          zone: eb.ref("excluded.zone"),
          labels: eb.ref("excluded.labels"),
          capacityVcpus: eb.ref("excluded.capacityVcpus"),
          capacityMemoryMb: eb.ref("excluded.capacityMemoryMb"),
          maxVms: eb.ref("excluded.maxVms"),
          version: eb.ref("excluded.version"),
          internalToken: eb.ref("excluded.internalToken"),
          startedAt: eb.ref("excluded.startedAt"),
          lastSeenAt: sql<Date>`now()`,
          status: sql<WorkerStatus>`case when workers.status = 'draining' then 'draining' else 'active' end`,
        })),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return this.#opened(row);
  }

  /**
   * Records a heartbeat (and current usage). A worker the reaper had marked offline is back:
   * it becomes active again. Returns undefined for an unknown worker, which should re-register.
   */
  async heartbeat(id: string, usage?: WorkerUsage): Promise<WorkerRow | undefined> {
    const row = await this.#db
      .updateTable("workers")
      .set({
        lastSeenAt: sql<Date>`now()`,
        status: sql<WorkerStatus>`case when status = 'offline' then 'active' else status end`,
        ...(usage && {
          usedVcpus: usage.vcpus,
          usedMemoryMb: usage.memoryMb,
          usedVms: usage.vms,
        }),
      })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
    return row && this.#opened(row);
  }

  /** Sets the status (drain, activate, offline); undefined for an unknown worker. */
  async setStatus(id: string, status: WorkerStatus): Promise<WorkerRow | undefined> {
    const row = await this.#db
      .updateTable("workers")
      .set({ status })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
    return row && this.#opened(row);
  }

  /**
   * Marks the worker offline only if its last heartbeat is still older than `olderThan`: a
   * heartbeat that lands first wins, and of several reapers racing exactly one gets the row.
   */
  async markOfflineIfStale(id: string, olderThan: Date): Promise<WorkerRow | undefined> {
    const row = await this.#db
      .updateTable("workers")
      .set({ status: "offline" })
      .where("id", "=", id)
      .where("status", "!=", "offline")
      .where("lastSeenAt", "<", olderThan)
      .returningAll()
      .executeTakeFirst();
    return row && this.#opened(row);
  }

  /** The worker, or undefined. */
  async get(id: string): Promise<WorkerRow | undefined> {
    const row = await this.#db
      .selectFrom("workers")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row && this.#opened(row);
  }

  /** All workers (a fleet is small enough not to page), by id. */
  async list(filter: WorkerFilter = {}): Promise<WorkerRow[]> {
    let query = this.#db.selectFrom("workers").selectAll();
    if (filter.status !== undefined) query = query.where("status", "=", filter.status);
    if (filter.zone !== undefined) query = query.where("zone", "=", filter.zone);
    return (await query.orderBy("id").execute()).map((r) => this.#opened(r));
  }

  /** Workers not yet offline whose last heartbeat is older than `olderThan`: the reaper's list. */
  async listStale(olderThan: Date): Promise<WorkerRow[]> {
    const rows = await this.#db
      .selectFrom("workers")
      .selectAll()
      .where("status", "!=", "offline")
      .where("lastSeenAt", "<", olderThan)
      .orderBy("lastSeenAt")
      .execute();
    return rows.map((r) => this.#opened(r));
  }

  #opened(row: WorkerRow): WorkerRow {
    const sealed = row.internalToken;
    return { ...row, internalToken: sealed ? (this.#sealer.open(sealed, row.id) ?? null) : null };
  }
}
