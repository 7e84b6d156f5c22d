import { NotFoundError } from "@aetherium/common";
import {
  agentSpecSchema,
  ENVIRONMENT_DEFAULTS,
  prepStepStatusSchema,
  prepStepTypeSchema,
  workspaceStatusSchema,
  type Environment,
  type PrepStep,
  type Workspace,
  type WorkspaceStatus,
} from "@aetherium/types";
import type { Kysely, Selectable } from "kysely";
import { isUuid } from "../storage/cursor.js";
import type { Database, WorkspacePrepStepsTable, WorkspacesTable } from "../storage/database.js";

/** A `workspaces` row. */
export type WorkspaceRow = Selectable<WorkspacesTable>;

/** A `workspace_prep_steps` row. */
export type PrepStepRow = Selectable<WorkspacePrepStepsTable>;

/** What a workspace keeps in `metadata` besides its snapshot. */
export interface WorkspaceMetadata {
  /** Variables set by `env` setup steps, given to later steps and to every prompt's agent. */
  readonly env?: Record<string, string>;
  /** The `workspace:create` task preparing it (cancelled when it is deleted meanwhile). */
  readonly createTaskId?: string;
  /** The `workspace:delete` task removing it; set once, so a second delete joins the first. */
  readonly deleteTaskId?: string;
}

/** Sandbox states in which a workspace's sandbox is gone for good. */
const GONE_VM_STATES = new Set(["deleted", "lost", "failed", "deleting"]);

/** The workspace's metadata, typed. */
export function metadataOf(row: Pick<WorkspaceRow, "metadata">): WorkspaceMetadata {
  const metadata: WorkspaceMetadata = row.metadata;
  return metadata;
}

/** The environment snapshot the workspace was made from. */
export function specOf(row: Pick<WorkspaceRow, "spec">): Environment {
  return row.spec as unknown as Environment;
}

/** The step in API shape. */
export function toPrepStep(row: PrepStepRow): PrepStep {
  return {
    id: row.id,
    type: prepStepTypeSchema.parse(row.stepType),
    name: row.name,
    order: row.stepOrder,
    status: prepStepStatusSchema.catch("pending").parse(row.status),
    exitCode: row.exitCode,
    output: row.stdout ?? "",
    error: row.error,
    startedAt: row.startedAt?.toISOString() ?? null,
    completedAt: row.completedAt?.toISOString() ?? null,
    durationMs: row.durationMs,
  };
}

/**
 * The API shape of a workspace. A workspace whose sandbox was deleted on its own (`DELETE
 * /vms/{id}`) or was lost shows `failed` with the reason: its record, steps and history stay.
 */
export function toWorkspace(
  row: WorkspaceRow,
  steps: readonly PrepStepRow[],
  vmStatus: string | null,
): Workspace {
  const spec = specOf(row);
  const gone =
    row.vmId !== null &&
    vmStatus !== null &&
    GONE_VM_STATES.has(vmStatus) &&
    (row.status === "ready" || row.status === "idle");
  let status: WorkspaceStatus = workspaceStatusSchema.catch("failed").parse(row.status);
  let error = row.error;
  if (gone) {
    status = "failed";
    error = `its sandbox ${row.vmId ?? ""} is ${vmStatus}; delete the workspace and make a new one`;
  } else if (row.vmId === null && (row.status === "ready" || row.status === "idle")) {
    status = "failed";
    error = "its sandbox is gone; delete the workspace and make a new one";
  }
  return {
    id: row.id,
    name: row.name,
    description: row.description ?? "",
    environmentId: row.environmentId,
    vmId: row.vmId,
    status,
    agent: agentSpecSchema.parse({ type: row.aiAssistant, ...row.aiAssistantConfig }),
    workingDirectory: row.workingDirectory,
    idleTimeoutSec: spec.idleTimeoutSec ?? ENVIRONMENT_DEFAULTS.idleTimeoutSec,
    prepSteps: [...steps].sort((a, b) => a.stepOrder - b.stepOrder).map(toPrepStep),
    createdAt: row.createdAt.toISOString(),
    readyAt: row.readyAt?.toISOString() ?? null,
    stoppedAt: row.stoppedAt?.toISOString() ?? null,
    idleSince: row.idleSince?.toISOString() ?? null,
    error,
    failedStep: row.failedStep,
  };
}

/** Reads workspaces of one tenant by id or name, with what their API shape needs. */
export class WorkspaceRecords {
  constructor(private readonly db: Kysely<Database>) {}

  /** The row, by id or name; NotFoundError otherwise (also for another tenant's). */
  async find(tenant: string, idOrName: string): Promise<WorkspaceRow> {
    const row = await this.db
      .selectFrom("workspaces")
      .selectAll()
      .where("tenant", "=", tenant)
      .where(isUuid(idOrName) ? "id" : "name", "=", idOrName)
      .executeTakeFirst();
    if (!row) throw new NotFoundError("workspace", idOrName);
    return row;
  }

  /** The row by id, whatever its tenant; undefined when it is gone. */
  byId(id: string): Promise<WorkspaceRow | undefined> {
    return this.db.selectFrom("workspaces").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** Rows in API shape, with their steps and their sandboxes' states. */
  async shape(rows: readonly WorkspaceRow[]): Promise<Workspace[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const steps = await this.db
      .selectFrom("workspacePrepSteps")
      .selectAll()
      .where("workspaceId", "in", ids)
      .execute();
    const vmIds = rows.map((r) => r.vmId).filter((v): v is string => v !== null);
    const vms =
      vmIds.length === 0
        ? []
        : await this.db
            .selectFrom("vms")
            .select(["id", "status"])
            .where("id", "in", vmIds)
            .execute();
    const vmStatus = new Map(vms.map((v) => [v.id, v.status as string]));
    return rows.map((r) =>
      toWorkspace(
        r,
        steps.filter((s) => s.workspaceId === r.id),
        r.vmId ? (vmStatus.get(r.vmId) ?? "deleted") : null,
      ),
    );
  }

  /** One row in API shape. */
  async one(row: WorkspaceRow): Promise<Workspace> {
    const [w] = await this.shape([row]);
    if (!w) throw new NotFoundError("workspace", row.id);
    return w;
  }
}
