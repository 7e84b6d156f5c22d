import { sql, type Kysely, type Selectable } from "kysely";
import { isUuid } from "../cursor.js";
import type { ApiKeysTable, Database } from "../database.js";

/** A row of `api_keys`. */
export type ApiKeyRow = Selectable<ApiKeysTable>;

/** A key to store: its hash, never the secret. */
export interface NewApiKey {
  readonly name: string;
  /** Hash of the secret (hashing is the caller's: the repository never sees the secret). */
  readonly keyHash: string;
  /** The first characters of the secret, shown in listings. */
  readonly prefix: string;
  readonly scopes: readonly string[];
  readonly tenant?: string;
}

// last_used_at is informational: writing it on every request would make each authenticated
// read a write, so it moves at most once a minute per key.
const TOUCH_INTERVAL = "1 minute";

/** API keys, stored as hashes. */
export class ApiKeyRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Stores a key. A duplicate hash is a unique violation of `api_keys_key_hash_key`. */
  async create(input: NewApiKey): Promise<ApiKeyRow> {
    return this.#db
      .insertInto("apiKeys")
      .values({
        name: input.name,
        keyHash: input.keyHash,
        prefix: input.prefix,
        scopes: JSON.stringify(input.scopes),
        tenant: input.tenant,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** The key with this hash, unless it was revoked: what authentication looks up. */
  async findByHash(keyHash: string): Promise<ApiKeyRow | undefined> {
    return this.#db
      .selectFrom("apiKeys")
      .selectAll()
      .where("keyHash", "=", keyHash)
      .where("revokedAt", "is", null)
      .executeTakeFirst();
  }

  /** The key by id (revoked ones too), or undefined. */
  async get(id: string): Promise<ApiKeyRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db.selectFrom("apiKeys").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** Keys, newest first; revoked ones only when asked. */
  async list(options: { tenant?: string; includeRevoked?: boolean } = {}): Promise<ApiKeyRow[]> {
    let query = this.#db.selectFrom("apiKeys").selectAll();
    if (options.tenant !== undefined) query = query.where("tenant", "=", options.tenant);
    if (!options.includeRevoked) query = query.where("revokedAt", "is", null);
    return query.orderBy("createdAt", "desc").orderBy("id", "desc").execute();
  }

  /** Revokes the key; false if it does not exist or was already revoked. */
  async revoke(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const result = await this.#db
      .updateTable("apiKeys")
      .set({ revokedAt: sql<Date>`now()` })
      .where("id", "=", id)
      .where("revokedAt", "is", null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Notes that the key was just used (at most one write a minute per key). */
  async touchLastUsed(id: string): Promise<void> {
    if (!isUuid(id)) return;
    await this.#db
      .updateTable("apiKeys")
      .set({ lastUsedAt: sql<Date>`now()` })
      .where("id", "=", id)
      .where((eb) =>
        eb.or([
          eb("lastUsedAt", "is", null),
          eb("lastUsedAt", "<", sql<Date>`now() - ${TOUCH_INTERVAL}::interval`),
        ]),
      )
      .execute();
  }
}
