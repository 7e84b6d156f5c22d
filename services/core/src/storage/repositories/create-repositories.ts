import type { Kysely } from "kysely";
import type { Database } from "../database.js";
import type { TokenSealer } from "../token-sealer.js";
import { ApiKeyRepository } from "./api-keys.js";
import { AuditLogRepository } from "./audit-log.js";
import { EnvironmentRepository } from "./environments.js";
import { SecretRepository } from "./secrets.js";
import { ExecutionRepository } from "./executions.js";
import { IntegrationDeliveryRepository } from "./integration-deliveries.js";
import { TaskRepository } from "./tasks.js";
import { VmNetworkLeaseRepository } from "./vm-network-leases.js";
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
  readonly vmNetworkLeases: VmNetworkLeaseRepository;
  readonly integrationDeliveries: IntegrationDeliveryRepository;
  readonly environments: EnvironmentRepository;
  readonly secrets: SecretRepository;
}

/** How {@link createRepositories} binds. */
export interface RepositoryOptions {
  /**
   * Seals secrets kept in rows (workers' internal tokens). Made from the installation's
   * encryption key; without it, a key private to this process (see `TokenSealer.processLocal`).
   */
  readonly sealer?: TokenSealer;
}

/**
 * Binds every repository to `db`. Pass a transaction (`db.transaction().execute(trx => …)`) to
 * make several repository calls atomic.
 */
export function createRepositories(
  db: Kysely<Database>,
  options: RepositoryOptions = {},
): Repositories {
  return {
    tasks: new TaskRepository(db),
    vms: new VmRepository(db, options.sealer),
    workers: new WorkerRepository(db, options.sealer),
    executions: new ExecutionRepository(db),
    apiKeys: new ApiKeyRepository(db),
    auditLog: new AuditLogRepository(db),
    vmNetworkLeases: new VmNetworkLeaseRepository(db),
    integrationDeliveries: new IntegrationDeliveryRepository(db),
    environments: new EnvironmentRepository(db),
    secrets: new SecretRepository(db),
  };
}
