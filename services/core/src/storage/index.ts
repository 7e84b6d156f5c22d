/**
 * Storage: PostgreSQL (through `pg`) or PGlite (embedded), typed with Kysely, schema from the
 * numbered SQL files in `services/core/migrations`, and small repositories for the domain services.
 *
 * @example
 * ```ts
 * const handle = await openDatabase({ pglite: ".aetherium/pgdata" });
 * await new Migrator(handle.db).up();
 * const repos = createRepositories(handle.db);
 * const task = await repos.tasks.create({ type: "vm.create", payload: { name: "dev" } });
 * await handle.close();
 * ```
 * @module
 */

/** Opening a database, the schema's Kysely types, and the column value types. */
export {
  openDatabase,
  type ApiKeysTable,
  type AuditLogTable,
  type Database,
  type DatabaseEngine,
  type DatabaseHandle,
  type EnvironmentsTable,
  type ExecutionsTable,
  type IpAllocationsTable,
  type JsonObject,
  type JsonValue,
  type OpenDatabaseOptions,
  type PromptTasksTable,
  type SchemaMigrationsTable,
  type SessionMessagesTable,
  type TaskStatus,
  type TasksTable,
  type VmStatus,
  type VmsTable,
  type WorkerMetricsTable,
  type WorkerStatus,
  type WorkersTable,
  type WorkspacePrepStepsTable,
  type WorkspaceSecretsTable,
  type WorkspaceSessionsTable,
  type WorkspacesTable,
} from "./database.js";
/** The Kysely dialect for PGlite (used by `openDatabase({ pglite })`). */
export { PGliteDialect, type PGliteDialectConfig } from "./pglite-dialect.js";
/** The SQL-file migrator. */
export {
  DEFAULT_MIGRATIONS_DIR,
  MIGRATION_LOCK_KEY,
  MigrationError,
  Migrator,
  type AppliedMigration,
  type Migration,
  type MigrationStatus,
  type MigratorOptions,
} from "./migrator.js";
/** One process at a time across the fleet for periodic duties (the reaper). */
export { advisoryExclusive, type Exclusive } from "./advisory-lock.js";
/** Keyset pagination: opaque cursors and pages. */
export {
  DEFAULT_PAGE_SIZE,
  InvalidCursorError,
  MAX_PAGE_SIZE,
  decodeCursor,
  encodeCursor,
  type CursorPosition,
  type Page,
  type PageOptions,
} from "./cursor.js";
/** Recognising constraint violations to map them to 409/400 instead of 500. */
export { isForeignKeyViolation, isUniqueViolation } from "./errors.js";
/** All repositories at once. */
export {
  createRepositories,
  type Repositories,
  type RepositoryOptions,
} from "./repositories/create-repositories.js";
/** Sealing of secrets kept in rows (workers' internal tokens). */
export { TokenSealer } from "./token-sealer.js";
/** Durable tasks. */
export {
  TaskRepository,
  type NewTask,
  type TaskFilter,
  type TaskRow,
} from "./repositories/tasks.js";
/** Sandboxes. */
export {
  VmRepository,
  couldEverFit,
  fits,
  waitingReason,
  type NewVm,
  type WorkerCapacityView,
  type VmFilter,
  type VmRow,
  type VmStatusChanges,
} from "./repositories/vms.js";
/** The worker registry. */
export {
  WorkerRepository,
  type WorkerCapacity,
  type WorkerFilter,
  type WorkerRegistration,
  type WorkerRow,
  type WorkerUsage,
} from "./repositories/workers.js";
/** Command executions. */
export {
  ExecutionRepository,
  type ExecutionOutcome,
  type ExecutionRow,
  type NewExecution,
} from "./repositories/executions.js";
/** API keys. */
export { ApiKeyRepository, type ApiKeyRow, type NewApiKey } from "./repositories/api-keys.js";
/** The audit trail. */
export {
  AuditLogRepository,
  type AuditLogFilter,
  type AuditLogRow,
  type NewAuditEntry,
} from "./repositories/audit-log.js";
