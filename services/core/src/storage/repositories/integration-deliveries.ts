import type { Kysely, Selectable } from "kysely";
import { decodeCursor, keysetPage, pageSize, type Page, type PageOptions } from "../cursor.js";
import type { Database, IntegrationDeliveriesTable } from "../database.js";
import { isUniqueViolation } from "../errors.js";

/** A row of `integration_deliveries`. */
export type IntegrationDeliveryRow = Selectable<IntegrationDeliveriesTable>;

/** One request from a provider, as it arrived. */
export interface NewIntegrationDelivery {
  readonly tenant?: string;
  readonly integration: IntegrationDeliveriesTable["integration"];
  readonly event: string;
  readonly deliveryId?: string | null;
  readonly verified: boolean;
  readonly action?: string | null;
  readonly target?: string | null;
  readonly outcome: string;
  /** Never secrets: the table is readable with the `read` scope. */
  readonly detail?: string | null;
  /** Set for an outcome that is already final (refused, ignored, answered at once). */
  readonly finished?: boolean;
}

/** What happened to a delivery since it was recorded. */
export interface IntegrationDeliveryUpdate {
  readonly action?: string | null;
  readonly target?: string | null;
  readonly taskId?: string | null;
  readonly promptId?: string | null;
  readonly outcome?: string;
  readonly detail?: string | null;
  readonly finished?: boolean;
}

/** Filters of {@link IntegrationDeliveryRepository.list}. */
export interface IntegrationDeliveryFilter extends PageOptions {
  readonly tenant?: string;
  readonly integration?: IntegrationDeliveriesTable["integration"];
}

/** The record of requests GitHub, Slack and Discord sent. */
export class IntegrationDeliveryRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Records a delivery. A verified one whose `deliveryId` this integration already recorded is
   * stored as a replay instead (`replay: true`), and the answer says so: the caller must then
   * start nothing.
   */
  async record(entry: NewIntegrationDelivery): Promise<IntegrationDeliveryRow> {
    const values = {
      tenant: entry.tenant,
      integration: entry.integration,
      event: entry.event,
      deliveryId: entry.deliveryId ?? null,
      verified: entry.verified,
      action: entry.action ?? null,
      target: entry.target ?? null,
      outcome: entry.outcome,
      detail: entry.detail ?? null,
      finishedAt: entry.finished ? new Date() : null,
    };
    try {
      return await this.#db
        .insertInto("integrationDeliveries")
        .values(values)
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      return this.#db
        .insertInto("integrationDeliveries")
        .values({
          ...values,
          replay: true,
          outcome: "refused",
          detail: `delivery ${entry.deliveryId ?? ""} was already received; it is not run again`,
          finishedAt: new Date(),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    }
  }

  /** Applies `update` to the delivery `id`; undefined when there is no such row. */
  async update(
    id: string,
    update: IntegrationDeliveryUpdate,
  ): Promise<IntegrationDeliveryRow | undefined> {
    const { finished, ...fields } = update;
    return this.#db
      .updateTable("integrationDeliveries")
      .set({ ...fields, ...(finished ? { finishedAt: new Date() } : {}) })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
  }

  /** Newest first, one page at a time. Throws InvalidCursorError on a bad cursor. */
  async list(filter: IntegrationDeliveryFilter = {}): Promise<Page<IntegrationDeliveryRow>> {
    const limit = pageSize(filter.limit);
    const after = filter.cursor ? decodeCursor(filter.cursor) : undefined;
    let query = this.#db.selectFrom("integrationDeliveries").selectAll();
    if (filter.tenant !== undefined) query = query.where("tenant", "=", filter.tenant);
    if (filter.integration !== undefined) {
      query = query.where("integration", "=", filter.integration);
    }
    return keysetPage(query, "receivedAt", after, limit, (d) => ({
      createdAt: d.receivedAt,
      id: d.id,
    }));
  }
}
