import { sql, type Kysely, type Selectable } from "kysely";
import {
  decodeCursor,
  isUuid,
  keysetPage,
  pageSize,
  type Page,
  type PageOptions,
} from "../cursor.js";
import type { Database, ExecutionsTable } from "../database.js";

/** A row of `executions`. */
export type ExecutionRow = Selectable<ExecutionsTable>;

/** A command about to run in a sandbox. */
export interface NewExecution {
  /** Chosen by the caller when the id was promised earlier (the API returns it with the task). */
  readonly id?: string;
  readonly vmId: string;
  readonly taskId?: string | null;
  readonly command: string;
  readonly args?: readonly string[];
  /** Names of the environment variables passed; their values are never stored. */
  readonly envKeys?: readonly string[];
  readonly cwd?: string | null;
  readonly user?: string | null;
  /** Runs on a terminal (an interactive shell). */
  readonly pty?: boolean;
}

/** How a command ended. */
export interface ExecutionOutcome {
  readonly exitCode?: number | null;
  readonly stdout?: string;
  readonly stderr?: string;
  readonly stdoutTruncated?: boolean;
  readonly stderrTruncated?: boolean;
  /** An infrastructure error (agent unreachable, timeout); a non-zero exit code is not one. */
  readonly error?: string | null;
  /**
   * When it ended and how long it ran, as the caller already answered them (a record completed
   * after its answer was sent); absent: the database's clock at the time of the write.
   */
  readonly completedAt?: Date;
  readonly durationMs?: number;
}

/** The record of every command run in a sandbox. */
export class ExecutionRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Records a command as started now. A row recorded earlier for the same id (an async execute,
   * see {@link recordQueued}) is the same command starting: it keeps its id and gets its real start
   * time. A row that already completed is not restarted — this throws instead, so a job that is
   * delivered twice cannot run its command twice.
   */
  async create(input: NewExecution): Promise<ExecutionRow> {
    return this.#db
      .insertInto("executions")
      .values(this.#values(input))
      .onConflict((oc) =>
        oc
          .column("id")
          .doUpdateSet({ startedAt: sql<Date>`now()`, taskId: (eb) => eb.ref("excluded.taskId") })
          .where("executions.completedAt", "is", null),
      )
      .returningAll()
      .executeTakeFirstOrThrow(
        () => new Error(`execution ${input.id ?? "(new)"} has already completed`),
      );
  }

  /**
   * Records a command that was queued but has not started (`POST /execute?async=true`), so the id
   * the API hands out can be read back at once instead of answering 404 until a worker picks the
   * job up. Does nothing if the worker got there first.
   */
  async recordQueued(input: NewExecution & { readonly id: string }): Promise<void> {
    await this.#db
      .insertInto("executions")
      .values(this.#values(input))
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
  }

  #values(input: NewExecution) {
    return {
      id: input.id,
      vmId: input.vmId,
      taskId: input.taskId,
      command: input.command,
      args: JSON.stringify(input.args ?? []),
      envKeys: JSON.stringify(input.envKeys ?? []),
      cwd: input.cwd,
      user: input.user,
      pty: input.pty,
    };
  }

  /**
   * Records the outcome, `completedAt` and the duration measured by the database clock (the same
   * clock that set `startedAt`). Returns undefined if unknown or already completed.
   */
  async complete(id: string, outcome: ExecutionOutcome): Promise<ExecutionRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db
      .updateTable("executions")
      .set({
        exitCode: outcome.exitCode ?? null,
        stdout: outcome.stdout ?? "",
        stderr: outcome.stderr ?? "",
        stdoutTruncated: outcome.stdoutTruncated ?? false,
        stderrTruncated: outcome.stderrTruncated ?? false,
        error: outcome.error ?? null,
        completedAt: outcome.completedAt ?? sql<Date>`now()`,
        durationMs:
          outcome.durationMs ??
          sql<number>`greatest(0, round(extract(epoch from (now() - started_at)) * 1000))::integer`,
      })
      .where("id", "=", id)
      .where("completedAt", "is", null)
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Stores the output captured so far of a command still running, so a crash of its worker loses
   * at most what arrived since the last call. Does nothing once the command has completed: the
   * final outcome always wins over a late progress write.
   */
  async recordProgress(
    id: string,
    output: Pick<ExecutionOutcome, "stdout" | "stderr" | "stdoutTruncated" | "stderrTruncated">,
  ): Promise<void> {
    if (!isUuid(id)) return;
    await this.#db
      .updateTable("executions")
      .set({
        stdout: output.stdout ?? "",
        stderr: output.stderr ?? "",
        stdoutTruncated: output.stdoutTruncated ?? false,
        stderrTruncated: output.stderrTruncated ?? false,
      })
      .where("id", "=", id)
      .where("completedAt", "is", null)
      .execute();
  }

  /**
   * Ends every unfinished execution in the sandboxes `workerId` holds with `error`, keeping the
   * output stored so far: their worker is gone and nobody else will ever complete them. Returns
   * their ids.
   */
  async failUnfinishedOnWorker(workerId: string, error: string): Promise<string[]> {
    const rows = await this.#db
      .updateTable("executions")
      .set({
        error,
        completedAt: sql<Date>`now()`,
        durationMs: sql<number>`greatest(0, round(extract(epoch from (now() - started_at)) * 1000))::integer`,
      })
      .where("completedAt", "is", null)
      .where("vmId", "in", (eb) =>
        eb.selectFrom("vms").select("id").where("workerId", "=", workerId),
      )
      .returning("id")
      .execute();
    return rows.map((r) => r.id);
  }

  /**
   * Ends every unfinished execution with `error`, keeping the output stored so far: for a
   * single-process install starting again, where nothing from before the restart still runs.
   */
  async failAllUnfinished(error: string): Promise<string[]> {
    const rows = await this.#db
      .updateTable("executions")
      .set({
        error,
        completedAt: sql<Date>`now()`,
        durationMs: sql<number>`greatest(0, round(extract(epoch from (now() - started_at)) * 1000))::integer`,
      })
      .where("completedAt", "is", null)
      .returning("id")
      .execute();
    return rows.map((r) => r.id);
  }

  /** The execution, or undefined (also for ids that are not UUIDs). */
  async get(id: string): Promise<ExecutionRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.#db.selectFrom("executions").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** A sandbox's executions, newest first. Throws InvalidCursorError on a bad cursor. */
  async listByVm(vmId: string, page: PageOptions = {}): Promise<Page<ExecutionRow>> {
    const limit = pageSize(page.limit);
    const after = page.cursor ? decodeCursor(page.cursor) : undefined;
    if (!isUuid(vmId)) return { items: [], nextCursor: null };
    const query = this.#db.selectFrom("executions").selectAll().where("vmId", "=", vmId);
    return keysetPage(query, "createdAt", after, limit, (e) => ({
      createdAt: e.createdAt,
      id: e.id,
    }));
  }
}
