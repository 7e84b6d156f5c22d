import { ConflictError, NotFoundError, type EventBus } from "@aetherium/common";
import {
  createEvent,
  vmEventTypeForStatus,
  type DomainEvent,
  type VmBackend,
  type VmStatus,
} from "@aetherium/types";
import { toVm } from "@aetherium/core";
import type { Repositories, VmRow } from "@aetherium/core";

/** Changes a status move may make to the record besides its status. */
export interface StatusChanges {
  readonly error?: string | null;
  readonly workerId?: string;
  readonly expiresAt?: Date | null;
}

/**
 * The sandbox records one manager answers for (its worker, its backend) and the one way their
 * status changes: a guarded update (the status it expects, or nothing) that announces itself on
 * the bus. Every part of the manager reads and moves records through here.
 */
export class SandboxRecords {
  constructor(
    private readonly deps: {
      readonly repos: Repositories;
      readonly bus: EventBus;
      readonly workerId: string;
      readonly kind: VmBackend;
    },
  ) {}

  /** The backend whose sandboxes these are. */
  get kind(): VmBackend {
    return this.deps.kind;
  }

  /** The worker whose sandboxes these are. */
  get workerId(): string {
    return this.deps.workerId;
  }

  /** This worker's records of this backend. */
  listHere(): Promise<VmRow[]> {
    return this.deps.repos.vms.listByWorker(this.deps.workerId, this.deps.kind);
  }

  /**
   * Moves `row` to `to` if its status is still one of `from`, and publishes the matching event.
   * Resolves to the updated row, or undefined when something else moved it first.
   */
  async move(
    row: VmRow,
    from: readonly VmStatus[],
    to: VmStatus,
    changes: StatusChanges = {},
  ): Promise<VmRow | undefined> {
    const next = await this.deps.repos.vms.updateStatus(row.id, from, to, changes);
    if (next) await this.announce(next, to, row.status);
    return next;
  }

  /** Publishes that `row` moved from `previousStatus` to `status`. */
  async announce(row: VmRow, status: VmStatus, previousStatus: VmStatus): Promise<void> {
    const event = createEvent(vmEventTypeForStatus(status), {
      vm: toVm(row),
      previousStatus,
    });
    await this.deps.bus.publish(event as DomainEvent);
  }

  /** The record of a sandbox of this worker, in any status (typed errors otherwise). */
  async own(sandboxId: string): Promise<VmRow> {
    const row = await this.deps.repos.vms.get(sandboxId);
    if (!row) throw new NotFoundError("sandbox", sandboxId);
    this.sameBackend(row);
    if (row.workerId !== this.deps.workerId) {
      throw new ConflictError(
        `sandbox ${sandboxId} belongs to worker ${row.workerId ?? "none"}, not ${this.deps.workerId}`,
      );
    }
    return row;
  }

  /** The record of a running sandbox of this worker (typed errors otherwise; deleted is unknown). */
  async running(sandboxId: string): Promise<VmRow> {
    const row = await this.deps.repos.vms.get(sandboxId);
    if (!row || row.status === "deleted") throw new NotFoundError("sandbox", sandboxId);
    this.sameBackend(row);
    if (row.workerId !== this.deps.workerId) {
      throw new ConflictError(
        `sandbox ${sandboxId} runs on worker ${row.workerId ?? "none"}, not on ${this.deps.workerId}`,
      );
    }
    if (row.status !== "running") {
      throw new ConflictError(`sandbox ${sandboxId} is ${row.status}, not running`);
    }
    return row;
  }

  /** Refuses a record of another backend: its manager, not this one, answers for it. */
  sameBackend(row: VmRow): void {
    if (row.backend !== this.deps.kind) {
      throw new ConflictError(
        `sandbox ${row.id} is a ${row.backend} sandbox; this is the ${this.deps.kind} manager`,
      );
    }
  }
}
