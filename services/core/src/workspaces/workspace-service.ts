import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  UnavailableError,
  ValidationError,
  type EventBus,
  type Logger,
} from "@aetherium/common";
import {
  createEvent,
  createWorkspaceBodySchema,
  ENVIRONMENT_DEFAULTS,
  isTerminalTaskStatus,
  workspaceEventTypeForStatus,
  type DomainEvent,
  type Environment,
  type ListWorkspacesQuery,
  type SecretMetadata,
  type Workspace,
  type WorkspaceStatus,
} from "@aetherium/types";
import { sql, type Kysely } from "kysely";
import type { EnvironmentService } from "../domain/environment-service.js";
import type { SecretActor, SecretService } from "../domain/secret-service.js";
import type { TaskService } from "../domain/task-service.js";
import type { VmService } from "../domain/vm-service.js";
import type { PromptWorkspace, PromptWorkspaces } from "../prompts/prompt-workspaces.js";
import { decodeCursor, isUuid, keysetPage, pageSize, type Page } from "../storage/cursor.js";
import type { Database } from "../storage/database.js";
import { isUniqueViolation } from "../storage/errors.js";
import type { Repositories } from "../storage/repositories/create-repositories.js";
import { sandboxBodyOf } from "./workspace-sandbox.js";
import {
  metadataOf,
  specOf,
  WorkspaceRecords,
  type WorkspaceMetadata,
  type WorkspaceRow,
} from "./workspace-records.js";

/** How often a wait re-reads a workspace or its sandbox. */
const POLL_MS = 300;

/** Longest a prompt waits for an idle workspace's sandbox to start again. */
const RESUME_TIMEOUT_MS = 5 * 60_000;

/** Sandbox states from which a workspace can never run again. */
const GONE = new Set(["deleted", "deleting", "lost", "failed"]);

/** Options of waiting calls. */
export interface WaitOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/**
 * Workspaces: a prepared sandbox per workspace, made from an environment (kept as a snapshot),
 * prepared by a durable `workspace:create` task, stopped when idle and started again by the next
 * prompt, removed by a `workspace:delete` task. It is also the port prompts use
 * ({@link PromptWorkspaces}).
 */
export class WorkspaceService implements PromptWorkspaces {
  readonly #db: Kysely<Database>;
  readonly #records: WorkspaceRecords;

  constructor(
    db: Kysely<Database>,
    private readonly deps: {
      readonly repos: Repositories;
      readonly tasks: TaskService;
      readonly vms: VmService;
      readonly environments: EnvironmentService;
      readonly secrets: SecretService;
      readonly bus: EventBus;
      readonly logger?: Logger;
    },
  ) {
    this.#db = db;
    this.#records = new WorkspaceRecords(db);
  }

  /**
   * Records a workspace from an environment (by id or name), stores its secrets, records its
   * sandbox and queues its preparation. 400 for a bad body or an unknown environment (naming the
   * field), 409 for a taken name.
   */
  async create(
    tenant: string,
    body: unknown,
    actor: SecretActor = {},
  ): Promise<{ workspace: Workspace; taskId: string }> {
    const parsed = createWorkspaceBodySchema.safeParse(body ?? {});
    if (!parsed.success) throw new ValidationError(parsed.error, "request body");
    const req = parsed.data;
    const env = await this.#environment(tenant, req.environment);
    await this.#checkTokenSecret(tenant, env, req.secrets ?? []);
    let row: WorkspaceRow;
    try {
      row = await this.#db
        .insertInto("workspaces")
        .values({
          tenant,
          name: req.name,
          description: req.description ?? null,
          environmentId: env.id,
          status: "creating",
          aiAssistant: env.agent.type,
          aiAssistantConfig: JSON.stringify(agentConfigOf(env)),
          workingDirectory: env.repo?.dir ?? ENVIRONMENT_DEFAULTS.workingDirectory,
          spec: JSON.stringify(env),
          metadata: JSON.stringify({ env: {} }),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ConflictError(`a workspace named "${req.name}" already exists`);
      throw err;
    }
    try {
      for (const s of req.secrets ?? []) {
        await this.deps.secrets.set({ tenant, workspaceId: row.id }, s, actor);
      }
      const { vm, placement } = await this.deps.vms.record(sandboxBodyOf(env, row.id));
      // Recorded before the task exists: its job may start at once and must find the sandbox.
      await this.#db
        .updateTable("workspaces")
        .set({ vmId: vm.id })
        .where("id", "=", row.id)
        .execute();
      const task = await this.deps.tasks.submit(
        "workspace:create",
        { workspaceId: row.id },
        { vmId: vm.id, placement, tenant },
      );
      await this.#mergeMetadata(row.id, { createTaskId: task.id });
      row = await this.#records.find(tenant, row.id);
      const workspace = await this.#records.one(row);
      await this.#publish(workspace, null);
      return { workspace, taskId: task.id };
    } catch (err) {
      // Nothing will prepare it: leave no half-made workspace (its secrets go with it) and no
      // sandbox record that nothing will build.
      const vmId = (await this.#records.byId(row.id))?.vmId;
      if (vmId) await this.deps.vms.delete(vmId).catch(() => undefined);
      await this.#db
        .deleteFrom("workspaces")
        .where("id", "=", row.id)
        .execute()
        .catch(() => undefined);
      throw err;
    }
  }

  /** One workspace by id or name, with its preparation steps. */
  async read(tenant: string, idOrName: string): Promise<Workspace> {
    return this.#records.one(await this.#records.find(tenant, idOrName));
  }

  /** Newest first, a page at a time; by status and environment. */
  async list(tenant: string, query: ListWorkspacesQuery): Promise<Page<Workspace>> {
    let q = this.#db.selectFrom("workspaces").selectAll().where("tenant", "=", tenant);
    if (query.status && query.status.length > 0) {
      // Stored states, except that a sandbox gone on its own shows `failed` (see toWorkspace).
      q = q.where("status", "in", query.status);
    }
    if (query.environmentId) {
      // Environment ids are UUIDs: any other value matches no workspace (and must not reach a uuid column).
      if (!isUuid(query.environmentId)) return { items: [], nextCursor: null };
      q = q.where("environmentId", "=", query.environmentId);
    }
    const page = await keysetPage(
      q,
      "createdAt",
      query.cursor ? decodeCursor(query.cursor) : undefined,
      pageSize(query.limit),
      (r) => ({ createdAt: r.createdAt, id: r.id }),
    );
    let items = await this.#records.shape(page.items);
    if (query.status && query.status.length > 0) {
      items = items.filter((w) => query.status?.includes(w.status));
    }
    return { items, nextCursor: page.nextCursor };
  }

  /**
   * Waits until the workspace is prepared (`ready`, `idle`) or `failed`, or `timeoutMs` passes;
   * returns it as it then is.
   */
  async waitPrepared(tenant: string, id: string, options: WaitOptions): Promise<Workspace> {
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      const w = await this.read(tenant, id);
      if (w.status !== "creating" && w.status !== "preparing") return w;
      if (Date.now() >= deadline || options.signal?.aborted) return w;
      await sleep(POLL_MS);
    }
  }

  /**
   * Deletes a workspace: its preparation is cancelled, then a `workspace:delete` task removes
   * its sandbox and the workspace with its steps, secrets and prompt history. Without a sandbox
   * left to remove it is deleted at once (`taskId` null). A second delete joins the first.
   */
  async delete(tenant: string, idOrName: string): Promise<{ taskId: string | null }> {
    const row = await this.#records.find(tenant, idOrName);
    const meta = metadataOf(row);
    if (meta.deleteTaskId) return { taskId: meta.deleteTaskId };
    if (meta.createTaskId) {
      const t = await this.deps.repos.tasks.get(meta.createTaskId);
      if (t && !isTerminalTaskStatus(t.status)) {
        await this.deps.tasks.cancel(t.id).catch(() => undefined);
      }
    }
    const vm = row.vmId ? await this.deps.repos.vms.get(row.vmId) : undefined;
    if (!vm || GONE.has(vm.status) || !vm.workerId) {
      // No worker holds a sandbox of it: nothing to wait for.
      if (vm && vm.status !== "deleted") await this.deps.vms.delete(vm.id).catch(() => undefined);
      await this.removeRecord(row.id);
      return { taskId: null };
    }
    const task = await this.deps.tasks.submit(
      "workspace:delete",
      { workspaceId: row.id, vmId: vm.id },
      { vmId: vm.id, ownerWorkerId: vm.workerId, tenant },
    );
    await this.#mergeMetadata(row.id, { deleteTaskId: task.id });
    return { taskId: task.id };
  }

  /** Waits until a workspace is gone; false when `timeoutMs` passed first. */
  async waitDeleted(tenant: string, id: string, options: WaitOptions): Promise<boolean> {
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      const gone = await this.#records.find(tenant, id).then(
        () => false,
        (err: unknown) => err instanceof NotFoundError,
      );
      if (gone) return true;
      if (Date.now() >= deadline || options.signal?.aborted) return false;
      await sleep(POLL_MS);
    }
  }

  /**
   * Removes the workspace row; its steps, secrets, prompts and sessions go with it (cascade).
   * Publishes `workspace.deleted`.
   */
  async removeRecord(id: string): Promise<void> {
    const row = await this.#records.byId(id);
    if (!row) return;
    const before = await this.#records.one(row);
    await this.#db.deleteFrom("workspaces").where("id", "=", id).execute();
    await this.deps.bus
      .publish(
        createEvent("workspace.deleted", { workspace: before, previousStatus: before.status }),
      )
      .catch(() => undefined);
  }

  /* Secrets of one workspace: write-only values, every change audited. */

  /** Adds or replaces a secret of the workspace. */
  async setSecret(
    tenant: string,
    idOrName: string,
    body: unknown,
    actor: SecretActor = {},
  ): Promise<SecretMetadata> {
    const row = await this.#records.find(tenant, idOrName);
    return this.deps.secrets.set({ tenant, workspaceId: row.id }, body, actor);
  }

  /** The workspace's own secrets (metadata only). */
  async listSecrets(tenant: string, idOrName: string): Promise<SecretMetadata[]> {
    const row = await this.#records.find(tenant, idOrName);
    return this.deps.secrets.list({ tenant, workspaceId: row.id });
  }

  /** Deletes one of the workspace's secrets. */
  async deleteSecret(
    tenant: string,
    idOrName: string,
    name: string,
    actor: SecretActor = {},
  ): Promise<void> {
    const row = await this.#records.find(tenant, idOrName);
    await this.deps.secrets.delete({ tenant, workspaceId: row.id }, name, actor);
  }

  /* The port prompts use. */

  async get(tenant: string, idOrName: string): Promise<PromptWorkspace> {
    const row = await this.#records.find(tenant, idOrName);
    const shown = await this.#records.one(row);
    return {
      id: row.id,
      tenant: row.tenant,
      name: row.name,
      // A workspace on its way out takes no prompts.
      status: metadataOf(row).deleteTaskId ? "deleting" : shown.status,
      vmId: row.vmId,
      aiAssistant: row.aiAssistant,
      aiAssistantConfig: row.aiAssistantConfig,
      workingDirectory: row.workingDirectory,
      env: { ...specOf(row).env, ...metadataOf(row).env },
    };
  }

  /**
   * The workspace's sandbox, running: an idle workspace's stopped sandbox is started again
   * (`vm:start`) and waited for. 409 naming the reason when the workspace cannot take a prompt.
   */
  async ensureRunning(tenant: string, id: string): Promise<{ sandboxId: string }> {
    const ws = await this.get(tenant, id);
    if (ws.status !== "ready" && ws.status !== "idle") {
      throw new ConflictError(`workspace ${ws.name} is ${ws.status}, not ready for prompts`);
    }
    if (!ws.vmId) throw new ConflictError(`workspace ${ws.name} has no sandbox`);
    const vmId = ws.vmId;
    // Active from now: the idle sweep leaves it alone while it is being resumed.
    await this.markActive(ws.id);
    const deadline = Date.now() + RESUME_TIMEOUT_MS;
    let asked = false;
    for (;;) {
      const vm = await this.deps.repos.vms.get(vmId);
      if (!vm || GONE.has(vm.status)) {
        throw new ConflictError(
          `the sandbox of workspace ${ws.name} is ${vm?.status ?? "gone"}; delete the workspace and make a new one`,
        );
      }
      if (vm.status === "running") break;
      if (!asked && (vm.status === "stopped" || vm.status === "paused")) {
        asked = true;
        const start =
          vm.status === "stopped" ? this.deps.vms.start(vmId) : this.deps.vms.resume(vmId);
        // Another prompt may have asked first: then its start is the one waited for.
        await start.catch((err: unknown) => {
          if (!(err instanceof ConflictError)) throw err;
        });
      }
      if (Date.now() >= deadline) {
        throw new UnavailableError(
          `the sandbox of workspace ${ws.name} did not start within ${RESUME_TIMEOUT_MS / 1000} s (it is ${vm.status})`,
        );
      }
      await sleep(POLL_MS);
    }
    const resumed = await this.#db
      .updateTable("workspaces")
      .set({ status: "ready", stoppedAt: null, idleSince: sql<Date>`now()` })
      .where("id", "=", ws.id)
      .where("status", "=", "idle")
      .returningAll()
      .executeTakeFirst();
    if (resumed) await this.#publish(await this.#records.one(resumed), "idle");
    return { sandboxId: vmId };
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
    return this.deps.secrets.values(tenant, workspaceId, "prompt");
  }

  /**
   * Stops the sandboxes of `ready` workspaces quiet for longer than their `idleTimeoutSec`, with
   * no prompt running or waiting and no command run in their sandbox within that time: status `idle`, sandbox stopped (not deleted, files kept).
   * Returns the workspaces it stopped. Run by one process at a time (the reaper's lock).
   */
  async sweepIdle(now: Date = new Date()): Promise<string[]> {
    const due = await this.#db
      .selectFrom("workspaces as w")
      .selectAll("w")
      .where("w.status", "=", "ready")
      .where("w.idleSince", "is not", null)
      .where("w.vmId", "is not", null)
      .where(
        sql<boolean>`w.idle_since + make_interval(secs => coalesce((w.spec->>'idleTimeoutSec')::int, ${ENVIRONMENT_DEFAULTS.idleTimeoutSec})) < ${now}`,
      )
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom("promptTasks as p")
              .select("p.id")
              .whereRef("p.workspaceId", "=", "w.id")
              .where("p.status", "in", ["pending", "running"]),
          ),
        ),
      )
      // A command run in its sandbox (`/vms/{id}/execute`, an exec WebSocket) is activity too:
      // one still running, or one that ended within the idle timeout, keeps the sandbox up.
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom("executions as e")
              .select("e.id")
              .whereRef("e.vmId", "=", "w.vmId")
              .where(
                sql<boolean>`(e.completed_at is null or e.completed_at + make_interval(secs => coalesce((w.spec->>'idleTimeoutSec')::int, ${ENVIRONMENT_DEFAULTS.idleTimeoutSec})) >= ${now})`,
              ),
          ),
        ),
      )
      .limit(100)
      .execute();
    const stopped: string[] = [];
    for (const row of due) {
      const vm = row.vmId ? await this.deps.repos.vms.get(row.vmId) : undefined;
      if (!vm || vm.status !== "running") continue;
      // Guarded on the clock read above: a prompt that just began keeps it running.
      const idle = await this.#db
        .updateTable("workspaces")
        .set({ status: "idle", stoppedAt: sql<Date>`now()` })
        .where("id", "=", row.id)
        .where("status", "=", "ready")
        .where("idleSince", "=", row.idleSince)
        .returningAll()
        .executeTakeFirst();
      if (!idle) continue;
      try {
        await this.deps.vms.stop(vm.id);
      } catch (err) {
        this.deps.logger?.warn({ err, workspaceId: row.id }, "could not stop an idle workspace");
        await this.#db
          .updateTable("workspaces")
          .set({ status: "ready", stoppedAt: null })
          .where("id", "=", row.id)
          .where("status", "=", "idle")
          .execute();
        continue;
      }
      stopped.push(row.id);
      await this.#publish(await this.#records.one(idle), "ready");
    }
    return stopped;
  }

  async #environment(tenant: string, idOrName: string): Promise<Environment> {
    try {
      return await this.deps.environments.get(idOrName, tenant);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      throw new BadRequestError(
        `invalid request body: environment: no environment "${idOrName}" (give an environment's id or name)`,
        { details: [{ path: "environment", message: `no environment "${idOrName}"` }] },
      );
    }
  }

  /** The repository's token must be given with the workspace or exist as a global secret. */
  async #checkTokenSecret(
    tenant: string,
    env: Environment,
    given: readonly { name: string }[],
  ): Promise<void> {
    const token = env.repo?.tokenSecret;
    if (!token || given.some((s) => s.name === token)) return;
    const globals = await this.deps.secrets.list({ tenant, workspaceId: null });
    if (globals.some((s) => s.name === token)) return;
    throw new BadRequestError(
      `invalid request body: secrets: the environment's repository needs the secret "${token}"; give it in secrets or set it as a global secret`,
      { details: [{ path: "secrets", message: `missing "${token}" (repo.tokenSecret)` }] },
    );
  }

  async #mergeMetadata(id: string, patch: Partial<WorkspaceMetadata>): Promise<void> {
    await this.#db
      .updateTable("workspaces")
      .set({ metadata: sql`metadata || ${JSON.stringify(patch)}::jsonb` })
      .where("id", "=", id)
      .execute();
  }

  async #publish(workspace: Workspace, previousStatus: WorkspaceStatus | null): Promise<void> {
    await this.deps.bus
      .publish(
        // The type follows the status reached, so TypeScript cannot pin it to one member.
        createEvent(workspaceEventTypeForStatus(workspace.status), {
          workspace,
          previousStatus,
        }) as DomainEvent,
      )
      .catch((err: unknown) =>
        this.deps.logger?.warn({ err, workspaceId: workspace.id }, "could not publish"),
      );
  }
}

/** The agent settings a workspace keeps besides its type. */
function agentConfigOf(env: Environment): Record<string, string> {
  const { type: _type, ...rest } = env.agent;
  return Object.fromEntries(
    Object.entries(rest).filter((e): e is [string, string] => typeof e[1] === "string"),
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
