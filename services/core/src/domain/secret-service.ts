import { NotFoundError, UnavailableError, ValidationError, type Logger } from "@aetherium/common";
import { createSecretBodySchema, secretTypeSchema, type SecretMetadata } from "@aetherium/types";
import type { Repositories } from "../storage/repositories/create-repositories.js";
import type { SecretOwner, SecretRow } from "../storage/repositories/secrets.js";
import type { SecretCipher } from "../storage/secret-cipher.js";

/** Who asked, for the audit trail. */
export interface SecretActor {
  readonly actorKeyId?: string | null;
  readonly requestId?: string | null;
}

function toMetadata(row: SecretRow): SecretMetadata {
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    name: row.name,
    type: secretTypeSchema.catch("other").parse(row.secretType),
    description: row.description ?? "",
    scope: row.scope,
    keyId: row.keyId,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** Binds a ciphertext to its place, so it does not open in another row. */
function contextOf(owner: SecretOwner, name: string): string {
  return `${owner.tenant}/${owner.workspaceId ?? "global"}/${name}`;
}

/**
 * Workspace and global secrets: values go in encrypted and come out only as process env for a
 * workspace's commands (never through the API, never in a log). Every change and every use is
 * written to the audit log, by name.
 */
export class SecretService {
  constructor(
    private readonly repos: Repositories,
    private readonly cipher: SecretCipher,
    private readonly logger?: Logger,
  ) {}

  /** Adds or replaces a secret of `owner`; returns its metadata. */
  async set(owner: SecretOwner, body: unknown, actor: SecretActor = {}): Promise<SecretMetadata> {
    const parsed = createSecretBodySchema.safeParse(body ?? {});
    // The message names fields only; zod does not echo the value of a string that is too long.
    if (!parsed.success) throw new ValidationError(parsed.error, "request body");
    const { name, value, type, description } = parsed.data;
    const row = await this.repos.secrets.upsert(owner, {
      name,
      type,
      description,
      sealed: this.cipher.seal(value, contextOf(owner, name)),
    });
    await this.#audit("secret.set", owner, [name], actor);
    return toMetadata(row);
  }

  /** The owner's secrets (metadata only). */
  async list(owner: SecretOwner): Promise<SecretMetadata[]> {
    return (await this.repos.secrets.list(owner)).map(toMetadata);
  }

  /** Deletes one by name; NotFoundError when there is none. */
  async delete(owner: SecretOwner, name: string, actor: SecretActor = {}): Promise<void> {
    if (!(await this.repos.secrets.delete(owner, name))) {
      throw new NotFoundError(owner.workspaceId ? "workspace secret" : "global secret", name);
    }
    await this.#audit("secret.deleted", owner, [name], actor);
  }

  /**
   * The values a workspace's commands get: its global secrets, overridden by its own of the same
   * name; only `names` when given. The use is audited (names and purpose, never values). A value
   * that does not open is an error naming the secret.
   */
  async values(
    tenant: string,
    workspaceId: string,
    purpose: string,
    names?: readonly string[],
  ): Promise<Record<string, string>> {
    const rows = [
      ...(await this.repos.secrets.list({ tenant, workspaceId: null })),
      ...(await this.repos.secrets.list({ tenant, workspaceId })),
    ].filter((r) => !names || names.includes(r.name));
    const out: Record<string, string> = {};
    for (const row of rows) {
      const owner = { tenant, workspaceId: row.workspaceId };
      try {
        out[row.name] = this.cipher.open(row, contextOf(owner, row.name));
      } catch (err) {
        throw new UnavailableError(`secret ${row.name} cannot be read: ${(err as Error).message}`);
      }
    }
    if (rows.length > 0) {
      await this.#audit(
        "secret.used",
        { tenant, workspaceId },
        Object.keys(out).sort(),
        {},
        purpose,
      );
    }
    return out;
  }

  async #audit(
    action: string,
    owner: SecretOwner,
    names: string[],
    actor: SecretActor,
    purpose?: string,
  ): Promise<void> {
    try {
      await this.repos.auditLog.append({
        action,
        tenant: owner.tenant,
        actorKeyId: actor.actorKeyId ?? null,
        requestId: actor.requestId ?? null,
        resourceType: owner.workspaceId ? "workspace" : "secret",
        resourceId: owner.workspaceId,
        details: { names, ...(purpose ? { purpose } : {}) },
      });
    } catch (err) {
      // The audit trail is how uses are accounted for: a use that cannot be recorded fails.
      this.logger?.error({ err: (err as Error).message, action }, "could not audit a secret use");
      throw new UnavailableError("the audit log is unavailable; secrets are not used without it");
    }
  }
}
