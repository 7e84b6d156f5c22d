import type { Kysely, Selectable } from "kysely";
import {
  decodeCursor,
  isUuid,
  keysetPage,
  pageSize,
  type Page,
  type PageOptions,
} from "../cursor.js";
import type { Database, EnvironmentsTable, JsonObject, JsonValue } from "../database.js";

/** A row of `environments`. */
export type EnvironmentRow = Selectable<EnvironmentsTable>;

/** The columns of an environment a caller writes (every one, for create; some, for update). */
export interface EnvironmentValues {
  readonly name: string;
  readonly description: string;
  readonly backend: string | null;
  readonly image: string | null;
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly diskMb: number | null;
  readonly gitRepoUrl: string | null;
  readonly gitBranch: string | null;
  readonly gitTokenSecret: string | null;
  readonly workingDirectory: string;
  readonly tools: readonly string[];
  readonly envVars: Readonly<Record<string, string>>;
  readonly secretNames: readonly string[];
  readonly mcpServers: readonly JsonValue[];
  readonly setup: readonly JsonValue[];
  readonly agent: JsonObject;
  readonly idleTimeoutSec: number;
  readonly network: JsonObject;
}

const JSON_COLUMNS = ["tools", "envVars", "secretNames", "mcpServers", "setup", "agent", "network"];

function toColumns(values: Partial<EnvironmentValues>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    out[key] = JSON_COLUMNS.includes(key) ? JSON.stringify(value) : value;
  }
  return out;
}

/** Environments (workspace templates), per tenant, names unique in a tenant. */
export class EnvironmentRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Inserts; a name the tenant already uses is a unique violation (`environments_tenant_name_key`). */
  async create(values: EnvironmentValues, tenant = "default"): Promise<EnvironmentRow> {
    return this.#db
      .insertInto("environments")
      .values({ ...toColumns(values), tenant } as never)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** The environment with this id, or else this name, in the tenant. */
  async find(idOrName: string, tenant = "default"): Promise<EnvironmentRow | undefined> {
    let query = this.#db.selectFrom("environments").selectAll().where("tenant", "=", tenant);
    query = isUuid(idOrName)
      ? query.where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
      : query.where("name", "=", idOrName);
    // An id match wins over an environment that happens to be named like another's id.
    const rows = await query.execute();
    return rows.find((r) => r.id === idOrName) ?? rows[0];
  }

  /** Newest first, one page at a time. Throws InvalidCursorError on a bad cursor. */
  async list(filter: PageOptions & { tenant?: string } = {}): Promise<Page<EnvironmentRow>> {
    const limit = pageSize(filter.limit);
    const after = filter.cursor ? decodeCursor(filter.cursor) : undefined;
    const query = this.#db
      .selectFrom("environments")
      .selectAll()
      .where("tenant", "=", filter.tenant ?? "default");
    return keysetPage(query, "createdAt", after, limit, (e) => ({
      createdAt: e.createdAt,
      id: e.id,
    }));
  }

  /** Replaces the given columns; undefined when there is no such environment. */
  async update(
    id: string,
    values: Partial<EnvironmentValues>,
    tenant = "default",
  ): Promise<EnvironmentRow | undefined> {
    const columns = toColumns(values);
    if (Object.keys(columns).length === 0) return this.find(id, tenant);
    return this.#db
      .updateTable("environments")
      .set(columns as never)
      .where("id", "=", id)
      .where("tenant", "=", tenant)
      .returningAll()
      .executeTakeFirst();
  }

  /** Deletes; false when there was none. Workspaces made from it keep their snapshot. */
  async delete(id: string, tenant = "default"): Promise<boolean> {
    const res = await this.#db
      .deleteFrom("environments")
      .where("id", "=", id)
      .where("tenant", "=", tenant)
      .executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
}
