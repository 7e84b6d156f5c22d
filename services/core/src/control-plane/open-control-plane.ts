import path from "node:path";
import {
  InMemoryEventBus,
  RedisEventBus,
  type Config,
  type EventBus,
  type Logger,
} from "@aetherium/common";
import { EnvironmentService } from "../domain/environment-service.js";
import { SecretService } from "../domain/secret-service.js";
import { SecretCipher } from "../storage/secret-cipher.js";
import { TaskService } from "../domain/task-service.js";
import { VmService } from "../domain/vm-service.js";
import { WorkerService } from "../domain/worker-service.js";
import { BullmqJobQueue } from "../queue/bullmq-queue.js";
import { InProcessJobQueue } from "../queue/in-process-queue.js";
import type { JobQueue } from "../queue/job-queue.js";
import { openDatabase, type DatabaseHandle } from "../storage/database.js";
import { Migrator } from "../storage/migrator.js";
import { TokenSealer } from "../storage/token-sealer.js";
import {
  createRepositories,
  type Repositories,
} from "../storage/repositories/create-repositories.js";
import { DEFAULT_SANDBOX_SHAPE } from "../domain/sandbox-defaults.js";
import { PromptService } from "../prompts/prompt-service.js";
import { WorkspaceService } from "../workspaces/workspace-service.js";
import { resolveEncryptionKey } from "./encryption-key.js";

/** The state, queue, events and domain services of one process, wired once. */
export interface ControlPlane {
  readonly mode: "embedded" | "distributed";
  readonly db: DatabaseHandle;
  readonly repos: Repositories;
  readonly queue: JobQueue;
  readonly bus: EventBus;
  readonly tasks: TaskService;
  readonly vms: VmService;
  readonly workers: WorkerService;
  /** Prompts to workspaces' agents and the sessions that send them. */
  readonly prompts: PromptService;
  readonly environments: EnvironmentService;
  readonly secrets: SecretService;
  /** Workspaces: prepared sandboxes for coding agents, made from environments. */
  readonly workspaces: WorkspaceService;
  /** Closes queue, bus and database, in that order. */
  close(): Promise<void>;
}

/** How {@link openControlPlane} runs. */
export interface ControlPlaneOptions {
  readonly logger: Logger;
  /**
   * Apply pending migrations before anything else. Always on in embedded mode; in distributed
   * mode `aetherium migrate up` is the deliberate step, so it defaults to off there.
   */
  readonly migrate?: boolean;
  /** Stalled-job detection (BullMQ); shorter means faster recovery after a worker dies. */
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
}

/**
 * The composition root shared by `aetherium start`, `aetherium worker` and `aetherium gateway`:
 * PostgreSQL + BullMQ + Redis pub/sub when the config names them (distributed), PGlite under
 * `home` + the in-process queue + in-memory events otherwise (embedded, one process).
 */
export async function openControlPlane(
  config: Config,
  options: ControlPlaneOptions,
): Promise<ControlPlane> {
  const distributed = Boolean(config.database.url && config.redis.url);
  if (Boolean(config.database.url) !== Boolean(config.redis.url)) {
    options.logger.warn(
      "only one of database.url and redis.url is set; several processes need both, so this process runs embedded for the other",
    );
  }
  const db = config.database.url
    ? await openDatabase({
        url: config.database.url,
        poolSize: config.database.poolMax,
        connectTimeoutMs: config.database.connectTimeoutMs,
        statementTimeoutMs: config.database.statementTimeoutMs,
        // Only message and code: pg hangs the client (with its connection settings) on the error.
        onPoolError: (err) =>
          options.logger.warn(
            { err: { message: err.message, code: (err as { code?: unknown }).code } },
            "idle database connection lost; the next query opens a new one",
          ),
      })
    : await openDatabase({ pglite: path.resolve(config.home, "pgdata") });
  try {
    if (options.migrate ?? !distributed) {
      const applied = await new Migrator(db.db).up();
      if (applied.length > 0)
        options.logger.info({ applied: applied.map((m) => m.name) }, "migrations applied");
    }
    const queue: JobQueue = config.redis.url
      ? new BullmqJobQueue({
          connection: config.redis.url,
          commandTimeoutMs: config.redis.commandTimeoutMs,
          connectTimeoutMs: config.redis.connectTimeoutMs,
          prefix: `${config.redis.keyPrefix}q`,
          logger: options.logger,
          ...(options.lockDurationMs ? { lockDurationMs: options.lockDurationMs } : {}),
          ...(options.stalledIntervalMs ? { stalledIntervalMs: options.stalledIntervalMs } : {}),
        })
      : new InProcessJobQueue({ logger: options.logger });
    const bus: EventBus = config.redis.url
      ? new RedisEventBus({
          url: config.redis.url,
          channelPrefix: `${config.redis.keyPrefix}events:`,
          commandTimeoutMs: config.redis.commandTimeoutMs,
          connectTimeoutMs: config.redis.connectTimeoutMs,
          logger: options.logger,
        })
      : new InMemoryEventBus({ logger: options.logger });
    await bus.ready();
    const encryptionKey = await resolveEncryptionKey(config, {
      logger: options.logger,
      distributed,
    });
    const repos = createRepositories(db.db, { sealer: new TokenSealer(encryptionKey) });
    const tasks = new TaskService(repos, queue, bus, options.logger);
    // The setting goes in as configured: VmService resolves `auto` at each create, against the
    // fleet of that moment.
    const vms = new VmService(
      repos,
      tasks,
      bus,
      { backend: config.sandbox.defaultBackend, ...DEFAULT_SANDBOX_SHAPE },
      options.logger,
    );
    const workers = new WorkerService(repos, queue, bus);
    const secrets = new SecretService(repos, new SecretCipher(encryptionKey), options.logger);
    const environments = new EnvironmentService(repos);
    const workspaces = new WorkspaceService(db.db, {
      repos,
      tasks,
      vms,
      environments,
      secrets,
      bus,
      logger: options.logger,
    });
    const prompts = new PromptService(db.db, tasks, bus, workspaces, options.logger);
    return {
      mode: distributed ? "distributed" : "embedded",
      db,
      repos,
      queue,
      bus,
      tasks,
      vms,
      workers,
      prompts,
      environments,
      secrets,
      workspaces,
      async close() {
        await queue.close();
        await bus.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
