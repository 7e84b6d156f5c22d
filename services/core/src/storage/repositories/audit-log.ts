import type { Kysely, Selectable } from "kysely";
import {
  decodeCursor,
  isUuid,
  keysetPage,
  pageSize,
  type Page,
  type PageOptions,
} from "../cursor.js";
import type { AuditLogTable, Database, JsonObject } from "../database.js";

/** A row of `audit_log`. */
export type AuditLogRow = Selectable<AuditLogTable>;

/** One audited action. */
export interface NewAuditEntry {
  readonly action: string;
  readonly tenant?: string;
  readonly actorKeyId?: string | null;
  readonly resourceType?: string | null;
  readonly resourceId?: string | null;
  readonly requestId?: string | null;
  readonly statusCode?: number | null;
  /** Never secrets: this table is readable by every admin. */
  readonly details?: JsonObject;
}

/** Filters of {@link AuditLogRepository.list}. */
export interface AuditLogFilter extends PageOptions {
  readonly tenant?: string;
  readonly actorKeyId?: string;
  readonly action?: string;
  readonly resourceType?: string;
  readonly resourceId?: string;
}

/** The append-only audit trail. */
export class AuditLogRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Appends an entry stamped now. */
  async append(entry: NewAuditEntry): Promise<AuditLogRow> {
    return this.#db
      .insertInto("auditLog")
      .values({
        action: entry.action,
        tenant: entry.tenant,
        actorKeyId: entry.actorKeyId,
        resourceType: entry.resourceType,
        resourceId: entry.resourceId,
        requestId: entry.requestId,
        statusCode: entry.statusCode,
        details: entry.details === undefined ? undefined : JSON.stringify(entry.details),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Newest first, filtered, one page at a time. Throws InvalidCursorError on a bad cursor. */
  async list(filter: AuditLogFilter = {}): Promise<Page<AuditLogRow>> {
    const limit = pageSize(filter.limit);
    const after = filter.cursor ? decodeCursor(filter.cursor) : undefined;
    if (filter.actorKeyId !== undefined && !isUuid(filter.actorKeyId)) {
      return { items: [], nextCursor: null };
    }
    let query = this.#db.selectFrom("auditLog").selectAll();
    if (filter.tenant !== undefined) query = query.where("tenant", "=", filter.tenant);
    if (filter.actorKeyId !== undefined) query = query.where("actorKeyId", "=", filter.actorKeyId);
    if (filter.action !== undefined) query = query.where("action", "=", filter.action);
    if (filter.resourceType !== undefined) {
      query = query.where("resourceType", "=", filter.resourceType);
    }
    if (filter.resourceId !== undefined) query = query.where("resourceId", "=", filter.resourceId);
    return keysetPage(query, "at", after, limit, (e) => ({ createdAt: e.at, id: e.id }));
  }
}
