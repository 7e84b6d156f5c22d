import { randomUUID } from "node:crypto";
import { BadRequestError, NotFoundError } from "@aetherium/common";
import { toExecution, type Repositories, type ControlPlane } from "@aetherium/core";
import type { ExecuteBody, Execution, ListQuery } from "@aetherium/types";
import type { DataPlaneRouter } from "../data-plane/data-plane-router.js";

/** What {@link ExecutionService.queue} hands back: the command's record and its task. */
export interface QueuedExecution {
  readonly executionId: string;
  readonly taskId: string;
}

/** A page of a sandbox's recorded commands. */
export interface ExecutionPage {
  readonly items: Execution[];
  readonly nextCursor: string | null;
}

/**
 * Commands in sandboxes, however they are asked for: run now through the serving worker's data
 * plane, or queued as a `vm:execute` task for that worker; and read back from their records. The
 * command spec is the execute body as the API accepted it, passed on whole either way.
 */
export class ExecutionService {
  readonly #repos: Repositories;
  readonly #tasks: ControlPlane["tasks"];
  readonly #vms: ControlPlane["vms"];
  readonly #router: DataPlaneRouter;

  constructor(runtime: Pick<ControlPlane, "repos" | "tasks" | "vms">, router: DataPlaneRouter) {
    this.#repos = runtime.repos;
    this.#tasks = runtime.tasks;
    this.#vms = runtime.vms;
    this.#router = router;
  }

  /** Runs `spec` to its end; a non-zero exit is a result. Aborting `signal` kills the command. */
  run(vmId: string, spec: ExecuteBody, options: { signal?: AbortSignal } = {}): Promise<Execution> {
    return this.#router.execute(vmId, spec, options);
  }

  /**
   * Queues `spec` on the worker serving `vmId`. The same `idempotencyKey` gives back the first
   * request's execution instead of queueing it again.
   */
  async queue(
    vmId: string,
    spec: ExecuteBody,
    options: { idempotencyKey?: string } = {},
  ): Promise<QueuedExecution> {
    // A queued command's stdin is stored with its task, as text PostgreSQL holds: no NUL.
    if (spec.stdin?.includes("\0")) {
      throw new BadRequestError(
        "stdin of an async execute must not contain NUL characters; run it synchronously or send binary input over the exec WebSocket",
      );
    }
    // Looked up now, not remembered: the task outlives this request.
    const owner = await this.#router.owner(vmId);
    const executionId = randomUUID();
    const task = await this.#tasks.submit(
      "vm:execute",
      { vmId, executionId, ...spec },
      {
        vmId,
        ownerWorkerId: owner.workerId,
        ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
      },
    );
    // A replayed key returns the first request's execution, not the id made up just now.
    const firstId = (task.payload as { executionId?: string } | null)?.executionId ?? executionId;
    if (firstId === executionId) {
      // Readable at once (`GET /executions/{id}`, not completed yet) instead of a 404 until a
      // worker picks the job up; the worker's start then takes over the same row.
      await this.#repos.executions.recordQueued({
        id: executionId,
        vmId,
        taskId: task.id,
        command: spec.command,
        args: spec.args ?? [],
        envKeys: Object.keys(spec.env ?? {}),
        cwd: spec.cwd ?? null,
        user: spec.user ?? null,
      });
    }
    return { executionId: firstId, taskId: task.id };
  }

  /** One recorded command, or NotFoundError. */
  async get(id: string): Promise<Execution> {
    const row = await this.#repos.executions.get(id);
    if (!row) throw new NotFoundError("execution", id);
    return toExecution(row);
  }

  /** A sandbox's commands, newest first; NotFoundError for an unknown sandbox, not an empty page. */
  async list(vmId: string, page: ListQuery): Promise<ExecutionPage> {
    await this.#vms.get(vmId);
    const found = await this.#repos.executions.listByVm(vmId, {
      limit: page.limit,
      ...(page.cursor ? { cursor: page.cursor } : {}),
    });
    return { items: found.items.map(toExecution), nextCursor: found.nextCursor };
  }
}
