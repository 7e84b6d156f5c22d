import type { Kysely } from "kysely";
import type { Database } from "../database.js";
import { ApiKeyRepository } from "./api-keys.js";
import { AuditLogRepository } from "./audit-log.js";
import { ExecutionRepository } from "./executions.js";
import { TaskRepository } from "./tasks.js";
import { VmRepository } from "./vms.js";
import { WorkerRepository } from "./workers.js";

/** Every repository, bound to one Kysely instance or transaction. */
export interface Repositories {
  readonly tasks: TaskRepository;
  readonly vms: VmRepository;
  readonly workers: WorkerRepository;
  readonly executions: ExecutionRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly auditLog: AuditLogRepository;
}

/**
 * Binds every repository to `db`. Pass a transaction (`db.transaction().execute(trx => …)`) to
 * make several repository calls atomic.
 */
export function createRepositories(db: Kysely<Database>): Repositories {
  return {
    tasks: new TaskRepository(db),
    vms: new VmRepository(db),
    workers: new WorkerRepository(db),
    executions: new ExecutionRepository(db),
    apiKeys: new ApiKeyRepository(db),
    auditLog: new AuditLogRepository(db),
  };
}
