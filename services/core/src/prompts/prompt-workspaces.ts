import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { ConflictError, NotFoundError } from "@aetherium/common";
import { sql, type Kysely } from "kysely";
import { isUuid } from "../storage/cursor.js";
import type { Database } from "../storage/database.js";

/** What the prompt code reads of a workspace. */
export interface PromptWorkspace {
  readonly id: string;
  readonly tenant: string;
  readonly name: string;
  readonly status: string;
  readonly vmId: string | null;
  /** `ai_assistant` as stored: `claude-code`, `amp` or `custom`. */
  readonly aiAssistant: string;
  /** `ai_assistant_config`: `{command?, systemPrompt?, model?}`. */
  readonly aiAssistantConfig: Readonly<Record<string, unknown>>;
  readonly workingDirectory: string;
}

/**
 * What prompts need of workspaces. The workspace service implements it; until it does,
 * {@link TablePromptWorkspaces} reads the tables directly.
 */
export interface PromptWorkspaces {
  /** The workspace, or NotFoundError (also for another tenant's). */
  get(tenant: string, id: string): Promise<PromptWorkspace>;
  /** Its sandbox, running; fails clearly (ConflictError) when the workspace cannot take a prompt. */
  ensureRunning(tenant: string, id: string): Promise<{ sandboxId: string }>;
  /** Resets the workspace's idle clock. */
  markActive(id: string): Promise<void>;
  /** Workspace and global secrets by name, decrypted (workspace ones win). */
  secretValues(tenant: string, workspaceId: string): Promise<Record<string, string>>;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM for `workspace_secrets` rows under a key derived from the installation's
 * encryption key: `encrypted_value` is ciphertext and tag, `nonce` the IV, and the row's id is
 * bound in as associated data so a value copied into another row does not open.
 */
export class SecretBox {
  readonly #key: Buffer;

  /** `secret`: the installation's encryption key. */
  constructor(secret: string | Buffer) {
    this.#key = Buffer.from(
      hkdfSync("sha256", secret, Buffer.alloc(0), "aetherium workspace secret", 32),
    );
  }

  /** Encrypts `value` for row `rowId`. */
  seal(value: string, rowId: string): { encryptedValue: Buffer; nonce: Buffer } {
    const nonce = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce);
    cipher.setAAD(Buffer.from(rowId, "utf8"));
    const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    return { encryptedValue: Buffer.concat([body, cipher.getAuthTag()]), nonce };
  }

  /** The value of row `rowId`, or undefined when it does not open under this key. */
  open(encryptedValue: Uint8Array, nonce: Uint8Array, rowId: string): string | undefined {
    const raw = Buffer.from(encryptedValue);
    if (raw.length < TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(nonce));
      decipher.setAAD(Buffer.from(rowId, "utf8"));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(raw.subarray(0, raw.length - TAG_BYTES)),
        decipher.final(),
      ]).toString("utf8");
    } catch {
      return undefined;
    }
  }
}

/**
 * {@link PromptWorkspaces} over the `workspaces`, `vms` and `workspace_secrets` tables: a
 * workspace takes prompts while it is `ready` and its sandbox runs.
 */
export class TablePromptWorkspaces implements PromptWorkspaces {
  readonly #db: Kysely<Database>;
  readonly #box: SecretBox;

  constructor(db: Kysely<Database>, encryptionKey: string | Buffer) {
    this.#db = db;
    this.#box = new SecretBox(encryptionKey);
  }

  async get(tenant: string, id: string): Promise<PromptWorkspace> {
    if (!isUuid(id)) throw new NotFoundError("workspace", id);
    const row = await this.#db
      .selectFrom("workspaces")
      .selectAll()
      .where("id", "=", id)
      .where("tenant", "=", tenant)
      .where("status", "!=", "deleted")
      .executeTakeFirst();
    if (!row) throw new NotFoundError("workspace", id);
    return {
      id: row.id,
      tenant: row.tenant,
      name: row.name,
      status: row.status,
      vmId: row.vmId,
      aiAssistant: row.aiAssistant,
      aiAssistantConfig: row.aiAssistantConfig,
      workingDirectory: row.workingDirectory,
    };
  }

  async ensureRunning(tenant: string, id: string): Promise<{ sandboxId: string }> {
    const ws = await this.get(tenant, id);
    if (ws.status !== "ready" || !ws.vmId) {
      throw new ConflictError(`workspace ${ws.name} is ${ws.status}, not ready for prompts`);
    }
    const vm = await this.#db
      .selectFrom("vms")
      .select(["status"])
      .where("id", "=", ws.vmId)
      .executeTakeFirst();
    if (vm?.status !== "running") {
      throw new ConflictError(
        `the sandbox of workspace ${ws.name} is ${vm?.status ?? "gone"}, not running`,
      );
    }
    return { sandboxId: ws.vmId };
  }

  async markActive(id: string): Promise<void> {
    await this.#db
      .updateTable("workspaces")
      .set({ idleSince: sql<Date>`now()` })
      .where("id", "=", id)
      .execute();
  }

  async secretValues(tenant: string, workspaceId: string): Promise<Record<string, string>> {
    const rows = await this.#db
      .selectFrom("workspaceSecrets")
      .select(["id", "name", "workspaceId", "encryptedValue", "nonce"])
      .where("tenant", "=", tenant)
      .where((eb) => eb.or([eb("workspaceId", "=", workspaceId), eb("workspaceId", "is", null)]))
      .execute();
    const out: Record<string, string> = {};
    // Globals first, so a workspace's own secret of the same name wins.
    for (const row of [...rows].sort(
      (a, b) => Number(a.workspaceId !== null) - Number(b.workspaceId !== null),
    )) {
      const value = this.#box.open(row.encryptedValue, row.nonce, row.id);
      if (value === undefined) {
        throw new ConflictError(
          `secret ${row.name} does not open with this installation's encryption key`,
        );
      }
      out[row.name] = value;
    }
    return out;
  }
}
