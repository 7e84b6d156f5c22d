import type { Kysely, Selectable } from "kysely";
import type { Database, WorkspaceSecretsTable } from "../database.js";
import type { SealedSecret } from "../secret-cipher.js";

/** A row of `workspace_secrets`. */
export type SecretRow = Selectable<WorkspaceSecretsTable>;

/** Where a secret lives: one workspace's, or the tenant's global ones (`workspaceId` null). */
export interface SecretOwner {
  readonly tenant: string;
  readonly workspaceId: string | null;
}

/** Encrypted secrets; this repository never sees a value in clear. */
export class SecretRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Adds the secret, or replaces the value (and type, description) of one of the same name. */
  async upsert(
    owner: SecretOwner,
    input: { name: string; type: string; description: string; sealed: SealedSecret },
  ): Promise<SecretRow> {
    const existing = await this.get(owner, input.name);
    const values = {
      secretType: input.type,
      description: input.description,
      encryptedValue: input.sealed.encryptedValue,
      nonce: input.sealed.nonce,
      keyId: input.sealed.keyId,
    };
    if (existing) {
      return this.#db
        .updateTable("workspaceSecrets")
        .set(values)
        .where("id", "=", existing.id)
        .returningAll()
        .executeTakeFirstOrThrow();
    }
    return this.#db
      .insertInto("workspaceSecrets")
      .values({
        ...values,
        tenant: owner.tenant,
        workspaceId: owner.workspaceId,
        name: input.name,
        scope: owner.workspaceId ? "workspace" : "global",
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** One secret of the owner by name. */
  async get(owner: SecretOwner, name: string): Promise<SecretRow | undefined> {
    let query = this.#db
      .selectFrom("workspaceSecrets")
      .selectAll()
      .where("tenant", "=", owner.tenant)
      .where("name", "=", name);
    query = owner.workspaceId
      ? query.where("workspaceId", "=", owner.workspaceId)
      : query.where("workspaceId", "is", null);
    return query.executeTakeFirst();
  }

  /** The owner's secrets, by name. */
  async list(owner: SecretOwner): Promise<SecretRow[]> {
    let query = this.#db
      .selectFrom("workspaceSecrets")
      .selectAll()
      .where("tenant", "=", owner.tenant);
    query = owner.workspaceId
      ? query.where("workspaceId", "=", owner.workspaceId)
      : query.where("workspaceId", "is", null);
    return query.orderBy("name").execute();
  }

  /** Deletes by name; false when there was none. */
  async delete(owner: SecretOwner, name: string): Promise<boolean> {
    let query = this.#db
      .deleteFrom("workspaceSecrets")
      .where("tenant", "=", owner.tenant)
      .where("name", "=", name);
    query = owner.workspaceId
      ? query.where("workspaceId", "=", owner.workspaceId)
      : query.where("workspaceId", "is", null);
    const res = await query.executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
}
