import { ConflictError, NotFoundError, type EventBus, type Logger } from "@aetherium/common";
import {
  createEvent,
  isTerminalPromptStatus,
  isTerminalTaskStatus,
  promptSourceSchema,
  type DomainEvent,
  type ListPromptsQuery,
  type Prompt,
  type PromptSource,
  type PromptStatus,
  type SessionMessage,
  type SubmitPromptBody,
  type WorkspaceSession,
} from "@aetherium/types";
import { sql, type Kysely, type Selectable, type Transaction } from "kysely";
import type { TaskService } from "../domain/task-service.js";
import { HandBackError } from "../queue/job-queue.js";
import { decodeCursor, isUuid, keysetPage, pageSize, type Page } from "../storage/cursor.js";
import type { Database, PromptTasksTable } from "../storage/database.js";
import { agentInvocation, agentKindOf, type AgentSettings } from "./agent-adapters.js";
import type { PromptWorkspace, PromptWorkspaces } from "./prompt-workspaces.js";

type PromptRow = Selectable<PromptTasksTable>;

/** How often a waiting prompt's job asks again whether it is next (it waits off the worker). */
export const PROMPT_TURN_RECHECK_MS = 250;

/** How often a wait re-reads the prompt even without an event: the bus is best-effort. */
const WAIT_RECHECK_MS = 1000;

/** Workspace states in which a prompt is refused outright (it could never run). */
const REFUSING_STATES = new Set(["failed", "deleting", "deleted"]);

/** What the runner is told by {@link PromptService.claim}. */
export type PromptClaim =
  | { readonly run: true; readonly prompt: Prompt; readonly workspace: PromptWorkspace }
  | { readonly run: false; readonly reason: string };

/** How a run ended, as the runner reports it. */
export interface PromptOutcome {
  readonly status: "completed" | "failed" | "cancelled";
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutTruncated: boolean;
  readonly error: string | null;
  readonly durationMs: number;
}

/**
 * Prompts to a workspace's agent: recorded in `prompt_tasks`, each run by a durable
 * `prompt:execute` task on the worker that holds the workspace's sandbox. A workspace runs one
 * prompt at a time: a prompt's job runs only when it heads the workspace's queue (higher
 * priority first, then oldest), otherwise it is handed back to the queue to ask again shortly,
 * so waiting prompts hold no worker slot and survive any process's crash.
 */
export class PromptService {
  readonly #db: Kysely<Database>;

  constructor(
    db: Kysely<Database>,
    private readonly tasks: TaskService,
    private readonly bus: EventBus,
    private readonly workspaces: PromptWorkspaces,
    private readonly logger?: Logger,
  ) {
    this.#db = db;
  }

  /** The workspace port (the runner asks it for the sandbox and the secrets). */
  get workspacePort(): PromptWorkspaces {
    return this.workspaces;
  }

  /**
   * Records a prompt and queues its task. Refuses (400) settings its agent cannot run, and (409)
   * a workspace that failed, is going away, or has no sandbox yet.
   */
  async submit(
    tenant: string,
    workspaceId: string,
    body: SubmitPromptBody,
    source: PromptSource,
  ): Promise<{ prompt: Prompt; taskId: string }> {
    const ws = await this.workspaces.get(tenant, workspaceId);
    if (REFUSING_STATES.has(ws.status)) {
      throw new ConflictError(`workspace ${ws.name} is ${ws.status}; it takes no prompts`);
    }
    const kind = agentKindOf(ws.aiAssistant);
    if (!kind) {
      throw new ConflictError(`workspace ${ws.name} has an unknown agent "${ws.aiAssistant}"`);
    }
    // Checked now so a mistake is a 400 at once rather than a failed prompt later.
    agentInvocation(kind, agentSettingsOf(ws), {
      prompt: body.prompt,
      systemPrompt: body.systemPrompt ?? null,
    });
    if (!ws.vmId) {
      throw new ConflictError(
        `workspace ${ws.name} is ${ws.status} and has no sandbox yet; send prompts once it is ready`,
      );
    }
    const vm = await this.#db
      .selectFrom("vms")
      .select(["workerId"])
      .where("id", "=", ws.vmId)
      .executeTakeFirst();
    const row = await this.#db
      .insertInto("promptTasks")
      .values({
        workspaceId: ws.id,
        prompt: body.prompt,
        systemPrompt: body.systemPrompt ?? null,
        workingDirectory: body.workingDirectory ?? null,
        environment: JSON.stringify(body.env ?? {}),
        priority: body.priority,
        source,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    let taskId: string;
    try {
      const task = await this.tasks.submit(
        "prompt:execute",
        { workspaceId: ws.id, promptId: row.id },
        { vmId: ws.vmId, ownerWorkerId: vm?.workerId ?? null, tenant },
      );
      taskId = task.id;
    } catch (err) {
      await this.#db
        .updateTable("promptTasks")
        .set({ status: "failed", error: `could not queue: ${(err as Error).message}` })
        .where("id", "=", row.id)
        .execute();
      throw err;
    }
    const withTask = await this.#db
      .updateTable("promptTasks")
      .set({ taskId })
      .where("id", "=", row.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    const prompt = await this.#toPrompt(withTask);
    await this.#publish("prompt.created", prompt);
    return { prompt, taskId };
  }

  /** One prompt of the workspace, or NotFoundError. */
  async get(tenant: string, workspaceId: string, promptId: string): Promise<Prompt> {
    const ws = await this.workspaces.get(tenant, workspaceId);
    return this.#toPrompt(await this.#row(ws.id, promptId));
  }

  /** The workspace's prompts, newest first, a page at a time. */
  async list(tenant: string, workspaceId: string, query: ListPromptsQuery): Promise<Page<Prompt>> {
    const ws = await this.workspaces.get(tenant, workspaceId);
    let q = this.#db.selectFrom("promptTasks").selectAll().where("workspaceId", "=", ws.id);
    if (query.status && query.status.length > 0) q = q.where("status", "in", query.status);
    const page = await keysetPage(
      q,
      "createdAt",
      query.cursor ? decodeCursor(query.cursor) : undefined,
      pageSize(query.limit),
      (r) => ({ createdAt: r.createdAt, id: r.id }),
    );
    const order = await this.#pendingOrder(ws.id);
    return {
      items: page.items.map((r) => toPrompt(r, positionIn(order, r))),
      nextCursor: page.nextCursor,
    };
  }

  /**
   * Cancels a prompt: a queued one is removed (its task cancelled), a running one's process is
   * killed through its task's signal (this answers once it has ended, or after a few seconds with
   * its state then). A finished prompt is a conflict.
   */
  async cancel(tenant: string, workspaceId: string, promptId: string): Promise<Prompt> {
    const ws = await this.workspaces.get(tenant, workspaceId);
    const row = await this.#row(ws.id, promptId);
    if (isTerminalPromptStatus(row.status as PromptStatus)) {
      throw new ConflictError(`prompt ${promptId} has already finished (${row.status})`);
    }
    if (row.status === "pending") {
      const cancelled = await this.#db
        .updateTable("promptTasks")
        .set({ status: "cancelled", completedAt: sql<Date>`now()`, error: "cancelled" })
        .where("id", "=", row.id)
        .where("status", "=", "pending")
        .returningAll()
        .executeTakeFirst();
      if (cancelled) {
        if (cancelled.taskId) await this.#cancelTask(cancelled.taskId);
        const prompt = toPrompt(cancelled, null);
        await this.#publish("prompt.cancelled", prompt);
        return prompt;
      }
      // It started in between: cancel it as a running one.
    }
    if (row.taskId) await this.#cancelTask(row.taskId);
    return this.waitFor(tenant, workspaceId, promptId, { timeoutMs: 10_000 });
  }

  /**
   * Resolves with the prompt once it has finished, or with its latest state after `timeoutMs`.
   * Listens for its events and re-reads the row every second regardless (events may be missed).
   */
  async waitFor(
    tenant: string,
    workspaceId: string,
    promptId: string,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<Prompt> {
    let wake: (() => void) | undefined;
    const unsubscribe = this.bus.subscribe(
      ["prompt.completed", "prompt.failed", "prompt.cancelled", "prompt.started"],
      (event: DomainEvent) => {
        if ("prompt" in event.data && event.data.prompt.id === promptId) wake?.();
      },
    );
    const deadline = Date.now() + options.timeoutMs;
    try {
      for (;;) {
        const prompt = await this.get(tenant, workspaceId, promptId);
        const left = deadline - Date.now();
        if (isTerminalPromptStatus(prompt.status) || left <= 0 || options.signal?.aborted) {
          return prompt;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(WAIT_RECHECK_MS, left));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          options.signal?.addEventListener("abort", wake, { once: true });
        });
        if (wake) options.signal?.removeEventListener("abort", wake);
        wake = undefined;
      }
    } finally {
      unsubscribe();
    }
  }

  /**
   * The runner's first step: makes `promptId` the workspace's running prompt if it heads the
   * queue and nothing else runs; throws {@link HandBackError} when it must wait its turn. A prompt
   * no longer pending is not run (cancelled meanwhile, or found running after its worker died:
   * running an agent twice is not safe, so that one is failed). A running prompt whose task has
   * ended without finishing it (its process died) is failed so the queue moves on.
   */
  async claim(promptId: string): Promise<PromptClaim> {
    const result = await this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom("promptTasks")
        .selectAll()
        .where("id", "=", promptId)
        .forUpdate()
        .executeTakeFirst();
      if (!row) return { run: false as const, reason: "the prompt no longer exists" };
      if (row.status === "running") {
        const failed = await this.#interrupt(trx, row.id);
        return { run: false as const, reason: "interrupted", failed };
      }
      if (row.status !== "pending") return { run: false as const, reason: row.status };
      // Serialises claims of one workspace: only one can see "nothing runs" at a time.
      await trx
        .selectFrom("workspaces")
        .select("id")
        .where("id", "=", row.workspaceId)
        .forUpdate()
        .execute();
      const running = await trx
        .selectFrom("promptTasks as p")
        .leftJoin("tasks as t", "t.id", "p.taskId")
        .select(["p.id", "t.status as taskStatus"])
        .where("p.workspaceId", "=", row.workspaceId)
        .where("p.status", "=", "running")
        .execute();
      let stale: Selectable<PromptTasksTable> | undefined;
      for (const r of running) {
        if (r.taskStatus && !isTerminalTaskStatus(r.taskStatus)) {
          throw new HandBackError(
            "another prompt of this workspace is running",
            PROMPT_TURN_RECHECK_MS,
          );
        }
        stale = await this.#interrupt(trx, r.id);
      }
      const head = await trx
        .selectFrom("promptTasks")
        .select("id")
        .where("workspaceId", "=", row.workspaceId)
        .where("status", "=", "pending")
        .orderBy("priority", "desc")
        .orderBy("createdAt", "asc")
        .orderBy("id", "asc")
        .limit(1)
        .executeTakeFirst();
      if (head?.id !== row.id) {
        throw new HandBackError(
          "an earlier prompt of this workspace is waiting",
          PROMPT_TURN_RECHECK_MS,
        );
      }
      const started = await trx
        .updateTable("promptTasks")
        // The clock now, not the transaction's start: a claim that waited on a lock must not
        // appear to start before the prompt it waited for ended.
        .set({ status: "running", startedAt: sql<Date>`clock_timestamp()` })
        .where("id", "=", row.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return { run: true as const, started, failed: stale };
    });
    if (result.failed) await this.#publish("prompt.failed", toPrompt(result.failed, null));
    if (!result.run) return { run: false, reason: result.reason };
    const prompt = toPrompt(result.started, null);
    await this.#publish("prompt.started", prompt);
    const ws = await this.#db
      .selectFrom("workspaces")
      .select(["tenant"])
      .where("id", "=", prompt.workspaceId)
      .executeTakeFirstOrThrow();
    return {
      run: true,
      prompt,
      workspace: await this.workspaces.get(ws.tenant, prompt.workspaceId),
    };
  }

  /** Stores a running prompt's answer so far (bounded and redacted by the runner). */
  async recordProgress(
    promptId: string,
    output: { stdout: string; stderr: string; stdoutTruncated: boolean },
  ): Promise<void> {
    await this.#db
      .updateTable("promptTasks")
      .set({
        stdout: output.stdout,
        stderr: output.stderr,
        metadata: JSON.stringify({ stdoutTruncated: output.stdoutTruncated }),
      })
      .where("id", "=", promptId)
      .where("status", "=", "running")
      .execute();
  }

  /** Records how a running prompt ended and announces it. */
  async finish(promptId: string, outcome: PromptOutcome): Promise<Prompt | undefined> {
    const row = await this.#db
      .updateTable("promptTasks")
      .set({
        status: outcome.status,
        exitCode: outcome.exitCode,
        stdout: outcome.stdout,
        stderr: outcome.stderr,
        error: outcome.error,
        durationMs: outcome.durationMs,
        completedAt: sql<Date>`now()`,
        metadata: JSON.stringify({ stdoutTruncated: outcome.stdoutTruncated }),
      })
      .where("id", "=", promptId)
      .where("status", "=", "running")
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    const prompt = toPrompt(row, null);
    await this.#publish(`prompt.${outcome.status}`, prompt);
    return prompt;
  }

  /** Announces a piece of a running prompt's answer on the event bus. */
  async publishOutput(
    prompt: Pick<Prompt, "id" | "workspaceId">,
    stream: "stdout" | "stderr",
    seq: number,
    text: string,
  ): Promise<void> {
    await this.bus
      .publish(
        createEvent("prompt.output", {
          promptId: prompt.id,
          workspaceId: prompt.workspaceId,
          stream,
          seq,
          text,
        }),
      )
      .catch((err: unknown) =>
        this.logger?.warn({ err, promptId: prompt.id }, "could not publish prompt output"),
      );
  }

  /* Sessions: the workspace WebSocket's connections and their transcripts. */

  /** Records a new session on the workspace. */
  async openSession(
    tenant: string,
    workspaceId: string,
    client: { ip?: string; userAgent?: string },
  ): Promise<{ session: WorkspaceSession; workspace: PromptWorkspace }> {
    const workspace = await this.workspaces.get(tenant, workspaceId);
    const row = await this.#db
      .insertInto("workspaceSessions")
      .values({
        workspaceId: workspace.id,
        clientIp: client.ip ?? null,
        userAgent: client.userAgent?.slice(0, 500) ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { session: toSession(row), workspace };
  }

  /** Marks a session closed. */
  async closeSession(sessionId: string): Promise<void> {
    await this.#db
      .updateTable("workspaceSessions")
      .set({ status: "closed", disconnectedAt: sql<Date>`now()` })
      .where("id", "=", sessionId)
      .execute();
  }

  /** Adds an entry to a session's transcript. */
  async addSessionMessage(
    sessionId: string,
    message: {
      type: SessionMessage["type"];
      content: string;
      promptId?: string;
      exitCode?: number | null;
    },
  ): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto("sessionMessages")
        .values({
          sessionId,
          messageType: message.type,
          content: message.content,
          exitCode: message.exitCode ?? null,
          metadata: JSON.stringify(message.promptId ? { promptId: message.promptId } : {}),
        })
        .execute();
      await trx
        .updateTable("workspaceSessions")
        .set({ lastActivityAt: sql<Date>`now()` })
        .where("id", "=", sessionId)
        .execute();
    });
  }

  /** The workspace's sessions, newest first. */
  async listSessions(
    tenant: string,
    workspaceId: string,
    page: { limit?: number; cursor?: string },
  ): Promise<Page<WorkspaceSession>> {
    const ws = await this.workspaces.get(tenant, workspaceId);
    const q = this.#db.selectFrom("workspaceSessions").selectAll().where("workspaceId", "=", ws.id);
    const result = await keysetPage(
      q,
      "connectedAt",
      page.cursor ? decodeCursor(page.cursor) : undefined,
      pageSize(page.limit),
      (r) => ({ createdAt: r.connectedAt, id: r.id }),
    );
    return { items: result.items.map(toSession), nextCursor: result.nextCursor };
  }

  /** One session and its whole transcript, oldest first. */
  async sessionMessages(
    tenant: string,
    workspaceId: string,
    sessionId: string,
  ): Promise<{ session: WorkspaceSession; messages: SessionMessage[] }> {
    const ws = await this.workspaces.get(tenant, workspaceId);
    if (!isUuid(sessionId)) throw new NotFoundError("session", sessionId);
    const session = await this.#db
      .selectFrom("workspaceSessions")
      .selectAll()
      .where("id", "=", sessionId)
      .where("workspaceId", "=", ws.id)
      .executeTakeFirst();
    if (!session) throw new NotFoundError("session", sessionId);
    const rows = await this.#db
      .selectFrom("sessionMessages")
      .selectAll()
      .where("sessionId", "=", sessionId)
      .orderBy("createdAt", "asc")
      .orderBy("id", "asc")
      .limit(10_000)
      .execute();
    return {
      session: toSession(session),
      messages: rows.map((m) => ({
        id: m.id,
        sessionId: m.sessionId,
        type: m.messageType as SessionMessage["type"],
        content: m.content,
        promptId: typeof m.metadata.promptId === "string" ? m.metadata.promptId : null,
        exitCode: m.exitCode,
        createdAt: m.createdAt.toISOString(),
      })),
    };
  }

  async #row(workspaceId: string, promptId: string): Promise<PromptRow> {
    if (!isUuid(promptId)) throw new NotFoundError("prompt", promptId);
    const row = await this.#db
      .selectFrom("promptTasks")
      .selectAll()
      .where("id", "=", promptId)
      .where("workspaceId", "=", workspaceId)
      .executeTakeFirst();
    if (!row) throw new NotFoundError("prompt", promptId);
    return row;
  }

  async #toPrompt(row: PromptRow): Promise<Prompt> {
    if (row.status !== "pending") return toPrompt(row, null);
    return toPrompt(row, positionIn(await this.#pendingOrder(row.workspaceId), row));
  }

  /** Ids of the workspace's pending prompts in the order they will run. */
  async #pendingOrder(workspaceId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom("promptTasks")
      .select("id")
      .where("workspaceId", "=", workspaceId)
      .where("status", "=", "pending")
      .orderBy("priority", "desc")
      .orderBy("createdAt", "asc")
      .orderBy("id", "asc")
      .limit(10_000)
      .execute();
    return rows.map((r) => r.id);
  }

  async #interrupt(trx: Transaction<Database>, id: string): Promise<PromptRow | undefined> {
    return trx
      .updateTable("promptTasks")
      .set({
        status: "failed",
        completedAt: sql<Date>`now()`,
        error: "interrupted: the process running the agent stopped before it finished",
      })
      .where("id", "=", id)
      .where("status", "=", "running")
      .returningAll()
      .executeTakeFirst();
  }

  async #cancelTask(taskId: string): Promise<void> {
    await this.tasks.cancel(taskId).catch((err: unknown) => {
      // Already finished or gone: the prompt's own state is what counts.
      if (!(err instanceof ConflictError) && !(err instanceof NotFoundError)) throw err;
    });
  }

  async #publish(
    type:
      | "prompt.created"
      | "prompt.started"
      | "prompt.completed"
      | "prompt.failed"
      | "prompt.cancelled",
    prompt: Prompt,
  ): Promise<void> {
    await this.bus
      .publish(createEvent(type, { prompt }))
      .catch((err: unknown) =>
        this.logger?.warn({ err, promptId: prompt.id, type }, "could not publish a prompt event"),
      );
  }
}

/** The agent settings stored with a workspace, with unknown or mistyped fields left out. */
export function agentSettingsOf(ws: Pick<PromptWorkspace, "aiAssistantConfig">): AgentSettings {
  const c = ws.aiAssistantConfig;
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const command = str(c.command);
  const systemPrompt = str(c.systemPrompt);
  const model = str(c.model);
  return {
    ...(command ? { command } : {}),
    ...(systemPrompt ? { systemPrompt } : {}),
    ...(model ? { model } : {}),
  };
}

function positionIn(
  order: readonly string[],
  row: Pick<PromptRow, "id" | "status">,
): number | null {
  if (row.status !== "pending") return null;
  const i = order.indexOf(row.id);
  return i === -1 ? null : i + 1;
}

function toPrompt(row: PromptRow, position: number | null): Prompt {
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    taskId: row.taskId,
    prompt: row.prompt,
    systemPrompt: row.systemPrompt,
    workingDirectory: row.workingDirectory,
    env: row.environment,
    priority: row.priority,
    source: promptSourceSchema.catch("api").parse(row.source),
    status: row.status as PromptStatus,
    position,
    exitCode: row.exitCode,
    stdout: row.stdout ?? "",
    stderr: row.stderr ?? "",
    stdoutTruncated: row.metadata.stdoutTruncated === true,
    error: row.error,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    completedAt: row.completedAt?.toISOString() ?? null,
    durationMs: row.durationMs,
  };
}

function toSession(row: Selectable<Database["workspaceSessions"]>): WorkspaceSession {
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    status: row.status === "active" ? "active" : "closed",
    connectedAt: row.connectedAt.toISOString(),
    lastActivityAt: row.lastActivityAt.toISOString(),
    disconnectedAt: row.disconnectedAt?.toISOString() ?? null,
  };
}
