/**
 * Opening the database (PostgreSQL or PGlite) and the Kysely view of its schema.
 *
 * The schema lives in `services/core/migrations`. Keys are camelCase: the database
 * uses snake_case and Kysely's CamelCasePlugin translates, so `memory_mb` is `memoryMb` here.
 *
 * JSON columns are written as JSON text (`JSON.stringify`) and read back parsed. Passing the raw
 * value would work on PGlite but not on `pg`, which turns a JS array into a PostgreSQL array
 * literal instead of JSON.
 */
import { PGlite } from "@electric-sql/pglite";
import { CamelCasePlugin, Kysely, PostgresDialect, sql } from "kysely";
import type { ColumnType, Generated } from "kysely";
import pg from "pg";
import { PGliteDialect } from "./pglite-dialect.js";
import { PG_PARSERS, PGLITE_PARSERS, type TextParser } from "./type-parsers.js";

/** Any JSON value. */
export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** A timestamptz column that the database fills in by default. */
export type CreatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
/** A nullable timestamptz column. */
export type NullableTimestamp = ColumnType<
  Date | null,
  Date | string | null | undefined,
  Date | string | null
>;
/** A jsonb column with a database default: optional on insert, JSON text when written. */
export type JsonWithDefault<T> = ColumnType<T, string | undefined, string>;
/** A nullable jsonb column. */
export type NullableJson<T> = ColumnType<T | null, string | null | undefined, string | null>;
/** A text column with a database default. */
export type TextWithDefault = ColumnType<string, string | undefined, string>;
/** An integer column with a database default. */
export type IntWithDefault = ColumnType<number, number | undefined, number>;
/** A boolean column with a database default. */
export type BoolWithDefault = ColumnType<boolean, boolean | undefined, boolean>;

/** Sandbox life-cycle states (spec/api.md). */
export type VmStatus =
  | "pending"
  | "creating"
  | "running"
  | "paused"
  | "stopping"
  | "stopped"
  | "deleting"
  | "deleted"
  | "failed"
  | "lost";

/** Durable task states (spec/api.md). */
export type TaskStatus = "pending" | "queued" | "running" | "succeeded" | "failed" | "cancelled";

/** Worker states (spec/api.md). */
export type WorkerStatus = "active" | "draining" | "offline";

/** Table `workers`: one row per worker process, upserted when it registers. */
export interface WorkersTable {
  id: string;
  hostname: string;
  address: string;
  status: ColumnType<WorkerStatus, WorkerStatus | undefined, WorkerStatus>;
  backends: JsonWithDefault<string[]>;
  zone: ColumnType<string | null, string | null | undefined, string | null>;
  labels: JsonWithDefault<Record<string, string>>;
  capacityVcpus: IntWithDefault;
  capacityMemoryMb: IntWithDefault;
  maxVms: IntWithDefault;
  usedVcpus: IntWithDefault;
  usedMemoryMb: IntWithDefault;
  usedVms: IntWithDefault;
  version: ColumnType<string | null, string | null | undefined, string | null>;
  /**
   * Bearer token of the worker's internal data-plane routes, drawn anew at each start. Secret:
   * never part of the public `Worker` shape, never logged.
   */
  internalToken: ColumnType<string | null, string | null | undefined, string | null>;
  startedAt: CreatedAt;
  lastSeenAt: CreatedAt;
  createdAt: CreatedAt;
  updatedAt: CreatedAt;
}

/** Table `vms`: sandboxes (containers or microVMs). Deleted ones keep their row. */
export interface VmsTable {
  id: Generated<string>;
  tenant: TextWithDefault;
  name: string;
  backend: ColumnType<string | null, string | null | undefined, string | null>;
  status: ColumnType<VmStatus, VmStatus | undefined, VmStatus>;
  image: ColumnType<string | null, string | null | undefined, string | null>;
  vcpus: IntWithDefault;
  memoryMb: IntWithDefault;
  diskMb: ColumnType<number | null, number | null | undefined, number | null>;
  workerId: ColumnType<string | null, string | null | undefined, string | null>;
  labels: JsonWithDefault<Record<string, string>>;
  env: JsonWithDefault<Record<string, string>>;
  network: JsonWithDefault<JsonObject>;
  tools: JsonWithDefault<string[]>;
  error: ColumnType<string | null, string | null | undefined, string | null>;
  /** Why a `pending` sandbox is not placed yet; null once claimed. */
  pendingReason: ColumnType<string | null, string | null | undefined, string | null>;
  timeoutSec: ColumnType<number | null, number | null | undefined, number | null>;
  /** What `expiresAt` does: delete the sandbox, or pause it. */
  onTimeout: ColumnType<VmOnTimeout, VmOnTimeout | undefined, VmOnTimeout>;
  createdAt: CreatedAt;
  updatedAt: CreatedAt;
  readyAt: NullableTimestamp;
  expiresAt: NullableTimestamp;
  stoppedAt: NullableTimestamp;
  deletedAt: NullableTimestamp;
  metadata: JsonWithDefault<JsonObject>;
}

/** What a sandbox's timeout does. */
export type VmOnTimeout = "delete" | "pause";

/** Table `tasks`: the durable record of every control-plane operation. */
export interface TasksTable {
  id: Generated<string>;
  tenant: TextWithDefault;
  type: string;
  status: ColumnType<TaskStatus, TaskStatus | undefined, TaskStatus>;
  queue: TextWithDefault;
  priority: IntWithDefault;
  payload: JsonWithDefault<JsonValue>;
  result: NullableJson<JsonValue>;
  error: ColumnType<string | null, string | null | undefined, string | null>;
  vmId: ColumnType<string | null, string | null | undefined, string | null>;
  workerId: ColumnType<string | null, string | null | undefined, string | null>;
  attempts: IntWithDefault;
  maxAttempts: IntWithDefault;
  idempotencyKey: ColumnType<string | null, string | null | undefined, string | null>;
  cancelRequestedAt: NullableTimestamp;
  createdAt: CreatedAt;
  updatedAt: CreatedAt;
  scheduledAt: CreatedAt;
  startedAt: NullableTimestamp;
  completedAt: NullableTimestamp;
}

/** Table `executions`: every command run in a sandbox, with its (capped) output. */
export interface ExecutionsTable {
  id: Generated<string>;
  vmId: ColumnType<string | null, string | null | undefined, string | null>;
  taskId: ColumnType<string | null, string | null | undefined, string | null>;
  command: string;
  args: JsonWithDefault<string[]>;
  envKeys: JsonWithDefault<string[]>;
  cwd: ColumnType<string | null, string | null | undefined, string | null>;
  user: ColumnType<string | null, string | null | undefined, string | null>;
  exitCode: ColumnType<number | null, number | null | undefined, number | null>;
  stdout: TextWithDefault;
  stderr: TextWithDefault;
  stdoutTruncated: BoolWithDefault;
  stderrTruncated: BoolWithDefault;
  error: ColumnType<string | null, string | null | undefined, string | null>;
  createdAt: CreatedAt;
  startedAt: CreatedAt;
  completedAt: NullableTimestamp;
  durationMs: ColumnType<number | null, number | null | undefined, number | null>;
  /** Ran on a terminal (an interactive shell). */
  pty: BoolWithDefault;
}

/** Table `worker_metrics`: periodic resource samples per worker. */
export interface WorkerMetricsTable {
  id: Generated<string>;
  workerId: string;
  at: CreatedAt;
  cpuPercent: ColumnType<number | null, number | null | undefined, number | null>;
  memoryPercent: ColumnType<number | null, number | null | undefined, number | null>;
  diskPercent: ColumnType<number | null, number | null | undefined, number | null>;
  vmCount: ColumnType<number | null, number | null | undefined, number | null>;
  tasksProcessed: ColumnType<number | null, number | null | undefined, number | null>;
  /** int8: a number while below 2^53. */
  networkInBytes: ColumnType<number | null, number | null | undefined, number | null>;
  networkOutBytes: ColumnType<number | null, number | null | undefined, number | null>;
  metadata: JsonWithDefault<JsonObject>;
}

/** Table `vm_network_leases`: addresses handed out to microVMs on a worker host's VM bridge. */
export interface VmNetworkLeasesTable {
  /** cidr, read back as text (`10.213.0.0/24`). */
  subnet: string;
  /** inet, read back as text (`10.213.0.2`). */
  ip: string;
  sandboxId: string;
  workerId: string;
  tap: string;
  /** macaddr, read back as text (`02:ae:…`). */
  mac: string;
  /** The sandbox's egress policy, as the API takes it. */
  egress: ColumnType<JsonValue, string, string>;
  allocatedAt: CreatedAt;
}

/** Table `environments`: reusable workspace templates. */
export interface EnvironmentsTable {
  id: Generated<string>;
  tenant: TextWithDefault;
  name: string;
  description: ColumnType<string | null, string | null | undefined, string | null>;
  image: ColumnType<string | null, string | null | undefined, string | null>;
  vcpus: IntWithDefault;
  memoryMb: IntWithDefault;
  diskMb: ColumnType<number | null, number | null | undefined, number | null>;
  gitRepoUrl: ColumnType<string | null, string | null | undefined, string | null>;
  gitBranch: ColumnType<string | null, string | null | undefined, string | null>;
  gitTokenSecret: ColumnType<string | null, string | null | undefined, string | null>;
  workingDirectory: TextWithDefault;
  tools: JsonWithDefault<string[]>;
  envVars: JsonWithDefault<Record<string, string>>;
  mcpServers: JsonWithDefault<JsonValue[]>;
  idleTimeoutSec: IntWithDefault;
  backend: ColumnType<string | null, string | null | undefined, string | null>;
  network: JsonWithDefault<JsonObject>;
  secretNames: JsonWithDefault<string[]>;
  setup: JsonWithDefault<JsonValue[]>;
  agent: JsonWithDefault<JsonObject>;
  createdAt: CreatedAt;
  updatedAt: CreatedAt;
}

/** Table `workspaces`: AI-assistant sandboxes; they outlive their VM row. */
export interface WorkspacesTable {
  id: Generated<string>;
  tenant: TextWithDefault;
  name: string;
  description: ColumnType<string | null, string | null | undefined, string | null>;
  vmId: ColumnType<string | null, string | null | undefined, string | null>;
  environmentId: ColumnType<string | null, string | null | undefined, string | null>;
  status: TextWithDefault;
  aiAssistant: TextWithDefault;
  aiAssistantConfig: JsonWithDefault<JsonObject>;
  workingDirectory: TextWithDefault;
  idleSince: NullableTimestamp;
  createdAt: CreatedAt;
  updatedAt: CreatedAt;
  readyAt: NullableTimestamp;
  stoppedAt: NullableTimestamp;
  metadata: JsonWithDefault<JsonObject>;
  /** The environment the workspace was made from, as it was then (an `Environment`). */
  spec: JsonWithDefault<JsonObject>;
  error: ColumnType<string | null, string | null | undefined, string | null>;
  failedStep: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Table `workspace_secrets`: encrypted secrets of a workspace, or tenant-wide when global. */
export interface WorkspaceSecretsTable {
  id: Generated<string>;
  tenant: TextWithDefault;
  workspaceId: ColumnType<string | null, string | null | undefined, string | null>;
  name: string;
  description: ColumnType<string | null, string | null | undefined, string | null>;
  secretType: TextWithDefault;
  encryptedValue: ColumnType<Buffer, Uint8Array, Uint8Array>;
  nonce: ColumnType<Buffer, Uint8Array, Uint8Array>;
  keyId: TextWithDefault;
  scope: ColumnType<"workspace" | "global", "workspace" | "global" | undefined>;
  createdAt: CreatedAt;
  updatedAt: CreatedAt;
}

/** Table `workspace_prep_steps`: setup steps run in `stepOrder` when a workspace is prepared. */
export interface WorkspacePrepStepsTable {
  id: Generated<string>;
  workspaceId: string;
  stepType: string;
  name: TextWithDefault;
  stepOrder: IntWithDefault;
  config: JsonWithDefault<JsonObject>;
  status: TextWithDefault;
  exitCode: ColumnType<number | null, number | null | undefined, number | null>;
  stdout: ColumnType<string | null, string | null | undefined, string | null>;
  stderr: ColumnType<string | null, string | null | undefined, string | null>;
  error: ColumnType<string | null, string | null | undefined, string | null>;
  createdAt: CreatedAt;
  startedAt: NullableTimestamp;
  completedAt: NullableTimestamp;
  durationMs: ColumnType<number | null, number | null | undefined, number | null>;
  metadata: JsonWithDefault<JsonObject>;
}

/** Table `prompt_tasks`: prompts sent to the AI assistant of a workspace. */
export interface PromptTasksTable {
  id: Generated<string>;
  workspaceId: string;
  taskId: ColumnType<string | null, string | null | undefined, string | null>;
  prompt: string;
  systemPrompt: ColumnType<string | null, string | null | undefined, string | null>;
  workingDirectory: ColumnType<string | null, string | null | undefined, string | null>;
  environment: JsonWithDefault<Record<string, string>>;
  priority: IntWithDefault;
  status: TextWithDefault;
  source: ColumnType<string | null, string | null | undefined, string | null>;
  exitCode: ColumnType<number | null, number | null | undefined, number | null>;
  stdout: ColumnType<string | null, string | null | undefined, string | null>;
  stderr: ColumnType<string | null, string | null | undefined, string | null>;
  error: ColumnType<string | null, string | null | undefined, string | null>;
  createdAt: CreatedAt;
  updatedAt: CreatedAt;
  scheduledAt: CreatedAt;
  startedAt: NullableTimestamp;
  completedAt: NullableTimestamp;
  durationMs: ColumnType<number | null, number | null | undefined, number | null>;
  metadata: JsonWithDefault<JsonObject>;
}

/** Table `workspace_sessions`: interactive connections to a workspace. */
export interface WorkspaceSessionsTable {
  id: Generated<string>;
  workspaceId: string;
  status: TextWithDefault;
  clientIp: ColumnType<string | null, string | null | undefined, string | null>;
  userAgent: ColumnType<string | null, string | null | undefined, string | null>;
  connectedAt: CreatedAt;
  lastActivityAt: CreatedAt;
  disconnectedAt: NullableTimestamp;
  metadata: JsonWithDefault<JsonObject>;
}

/** Table `session_messages`: the transcript of a workspace session. */
export interface SessionMessagesTable {
  id: Generated<string>;
  sessionId: string;
  messageType: string;
  content: string;
  exitCode: ColumnType<number | null, number | null | undefined, number | null>;
  createdAt: CreatedAt;
  metadata: JsonWithDefault<JsonObject>;
}

/** Table `api_keys`: hashed API keys. */
export interface ApiKeysTable {
  id: Generated<string>;
  tenant: TextWithDefault;
  name: string;
  keyHash: string;
  prefix: string;
  scopes: JsonWithDefault<string[]>;
  createdAt: CreatedAt;
  lastUsedAt: NullableTimestamp;
  revokedAt: NullableTimestamp;
}

/** Table `audit_log`: who did what through the API. */
export interface AuditLogTable {
  id: Generated<string>;
  tenant: TextWithDefault;
  at: CreatedAt;
  actorKeyId: ColumnType<string | null, string | null | undefined, string | null>;
  action: string;
  resourceType: ColumnType<string | null, string | null | undefined, string | null>;
  resourceId: ColumnType<string | null, string | null | undefined, string | null>;
  requestId: ColumnType<string | null, string | null | undefined, string | null>;
  statusCode: ColumnType<number | null, number | null | undefined, number | null>;
  details: JsonWithDefault<JsonObject>;
}

/** Table `integration_deliveries`: every request GitHub, Slack or Discord sent, and its outcome. */
export interface IntegrationDeliveriesTable {
  id: Generated<string>;
  tenant: TextWithDefault;
  integration: "github" | "slack" | "discord";
  event: string;
  deliveryId: ColumnType<string | null, string | null | undefined, string | null>;
  verified: boolean;
  replay: BoolWithDefault;
  action: ColumnType<string | null, string | null | undefined, string | null>;
  target: ColumnType<string | null, string | null | undefined, string | null>;
  taskId: ColumnType<string | null, string | null | undefined, string | null>;
  promptId: ColumnType<string | null, string | null | undefined, string | null>;
  outcome: string;
  detail: ColumnType<string | null, string | null | undefined, string | null>;
  receivedAt: CreatedAt;
  finishedAt: NullableTimestamp;
}

/** Table `schema_migrations`, kept by the migrator. */
export interface SchemaMigrationsTable {
  version: number;
  name: string;
  appliedAt: CreatedAt;
}

/** Every table, by its camelCase name. */
export interface Database {
  workers: WorkersTable;
  vms: VmsTable;
  tasks: TasksTable;
  executions: ExecutionsTable;
  workerMetrics: WorkerMetricsTable;
  vmNetworkLeases: VmNetworkLeasesTable;
  environments: EnvironmentsTable;
  workspaces: WorkspacesTable;
  workspaceSecrets: WorkspaceSecretsTable;
  workspacePrepSteps: WorkspacePrepStepsTable;
  promptTasks: PromptTasksTable;
  workspaceSessions: WorkspaceSessionsTable;
  sessionMessages: SessionMessagesTable;
  apiKeys: ApiKeysTable;
  auditLog: AuditLogTable;
  integrationDeliveries: IntegrationDeliveriesTable;
  schemaMigrations: SchemaMigrationsTable;
}

/** Which engine a {@link DatabaseHandle} talks to. */
export type DatabaseEngine = "postgres" | "pglite";

/** Where {@link openDatabase} connects. */
export type OpenDatabaseOptions =
  | {
      /** A PostgreSQL connection URL, `postgres://user:pass@host:5432/db`. */
      readonly url: string;
      /** Largest number of pooled connections (default 10). */
      readonly poolSize?: number;
      /**
       * Longest wait for a connection, new or pooled (default 5 s); past it the query rejects,
       * so an unreachable or refusing server fails calls instead of queueing them forever.
       */
      readonly connectTimeoutMs?: number;
      /**
       * PostgreSQL's `statement_timeout`; unset, none (migrations may wait on each other's lock).
       * A client-side read timeout one second longer covers a server that stopped answering
       * altogether (frozen, network cut).
       */
      readonly statementTimeoutMs?: number;
      /**
       * Called when an idle pooled connection fails (server restart, network cut). Without a
       * listener `pg` would crash the process; the next query simply opens a new connection.
       */
      readonly onPoolError?: (error: Error) => void;
    }
  | {
      /** A PGlite data directory, or `memory://` for a throw-away in-memory database. */
      readonly pglite: string;
    };

/** An open database: the typed query builder and how to close it. */
export interface DatabaseHandle {
  /** Kysely over the camelCase {@link Database} schema. */
  readonly db: Kysely<Database>;
  /** The engine behind `db`. */
  readonly engine: DatabaseEngine;
  /**
   * One trivial query (`select 1`) through the pool: resolves when the database answers, rejects
   * with the driver's error otherwise (bounded by the pool's connect and query timeouts).
   */
  ping(): Promise<void>;
  /** Closes the pool or the PGlite instance, after running queries finish. Safe to call twice. */
  close(): Promise<void>;
}

// jsonb values (labels, payloads, metadata) keep their own keys; only column names are cased.
const camelCase = () => new CamelCasePlugin({ maintainNestedObjectKeys: true });

const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => {
    const parser = format === "binary" ? undefined : PG_PARSERS[oid];
    return parser ?? (pg.types.getTypeParser(oid, format) as TextParser);
  }) as pg.CustomTypesConfig["getTypeParser"],
};

/**
 * Opens PostgreSQL (`{ url }`, through a `pg` pool) or PGlite (`{ pglite }`, embedded, on disk or
 * in memory) and checks that it answers. Both engines return the same JavaScript values: Dates for
 * timestamps, numbers for int8 and numeric, Buffers for bytea, parsed objects for jsonb.
 *
 * The schema is not created here: run {@link Migrator.up} first.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  let db: Kysely<Database>;
  let engine: DatabaseEngine;
  if ("url" in options) {
    const statementTimeoutMs = options.statementTimeoutMs;
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      types: pgTypes,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      ...(statementTimeoutMs === undefined
        ? {}
        : { statement_timeout: statementTimeoutMs, query_timeout: statementTimeoutMs + 1000 }),
    });
    pool.on("error", (error) => options.onPoolError?.(error));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [camelCase()] });
    engine = "postgres";
  } else {
    const pglite = await PGlite.create(options.pglite, { parsers: PGLITE_PARSERS });
    db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }), plugins: [camelCase()] });
    engine = "pglite";
  }
  try {
    await sql`select 1`.execute(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    db,
    engine,
    ping: async () => void (await sql`select 1`.execute(db)),
    close: () => (closing ??= db.destroy()),
  };
}
