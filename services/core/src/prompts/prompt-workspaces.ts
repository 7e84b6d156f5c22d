import { ConflictError, NotFoundError } from "@aetherium/common";
import { sql, type Kysely } from "kysely";
import { isUuid } from "../storage/cursor.js";
import type { SecretService } from "../domain/secret-service.js";
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

/**
 * {@link PromptWorkspaces} over the `workspaces`, `vms` and `workspace_secrets` tables: a
 * workspace takes prompts while it is `ready` and its sandbox runs.
 */
export class TablePromptWorkspaces implements PromptWorkspaces {
  readonly #db: Kysely<Database>;
  readonly #secrets: Pick<SecretService, "values">;

  /** `secrets` decrypts (and audits) what a prompt's agent is given. */
  constructor(db: Kysely<Database>, secrets: Pick<SecretService, "values">) {
    this.#db = db;
    this.#secrets = secrets;
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
    // Global secrets, overridden by the workspace's own of the same name; each use audited.
    return this.#secrets.values(tenant, workspaceId, "prompt");
  }
}
