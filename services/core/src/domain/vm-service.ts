import { randomBytes } from "node:crypto";
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  ValidationError,
  type EventBus,
  type Logger,
} from "@aetherium/common";
import {
  createEvent,
  createVmBodySchema,
  vmBackendSchema,
  setVmTimeoutBodySchema,
  DEFAULT_NETWORK_POLICY,
  vmEventTypeForStatus,
  type BackendsResponse,
  type CreateVmBody,
  type DomainEvent,
  type Task,
  type Vm,
  type VmBackend,
  type VmBackendSetting,
  type VmStatus,
} from "@aetherium/types";
import type { Page } from "../storage/cursor.js";
import { isUniqueViolation } from "../storage/errors.js";
import type { Repositories } from "../storage/repositories/create-repositories.js";
import {
  couldEverFit,
  fits,
  waitingReason,
  type VmRow,
  type WorkerCapacityView,
} from "../storage/repositories/vms.js";
import { explainWait } from "./admission.js";
import { chooseBackend } from "./choose-backend.js";
import { toTask, toVm } from "./mappers.js";
import type { TaskService } from "./task-service.js";

/** What a sandbox gets when the request does not say. */
export interface VmDefaults {
  /** A backend, or `auto`: chosen at each create from what the active fleet offers then. */
  readonly backend: VmBackendSetting;
  readonly image: string;
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly diskMb: number;
}

/** Filters of {@link VmService.list}. */
export interface VmListFilter {
  readonly status?: VmStatus | readonly VmStatus[];
  readonly workerId?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly limit?: number;
  readonly cursor?: string;
}

/**
 * Sandboxes as records: validates a request, writes the `vms` row, and hands the work to a task.
 * The row is the truth the API shows; workers move it through its status machine.
 */
export class VmService {
  constructor(
    private readonly repos: Repositories,
    private readonly tasks: TaskService,
    private readonly bus: EventBus,
    private readonly defaults: VmDefaults,
    private readonly logger?: Logger,
  ) {}

  /** Records a sandbox (`pending`) and queues its creation; returns both. */
  async create(
    body: unknown,
    options: { idempotencyKey?: string; zone?: string } = {},
  ): Promise<{ vm: Vm; taskId: string }> {
    const parsed = createVmBodySchema.safeParse(body ?? {});
    if (!parsed.success) throw new ValidationError(parsed.error, "request body");
    const req = parsed.data;
    if (options.idempotencyKey) {
      const earlier = await this.repos.tasks.findByIdempotencyKey(options.idempotencyKey);
      if (earlier?.vmId) {
        const vm = await this.repos.vms.get(earlier.vmId);
        if (vm && earlier.type === "vm:create") return { vm: toVm(vm), taskId: earlier.id };
      }
    }
    const size = {
      vcpus: req.vcpus ?? this.defaults.vcpus,
      memoryMb: req.memoryMb ?? this.defaults.memoryMb,
    };
    const zone = req.zone ?? options.zone;
    // Read once: the backend is chosen from, and admitted against, the same fleet.
    const fleet = await this.repos.vms.fleetCapacity();
    const backend = chooseBackend({
      requested: req.backend,
      configured: this.defaults.backend,
      // A create that names a zone can only go to that zone's workers: `auto` looks at those.
      offered: offeredBackends(zone ? fleet.filter((w) => w.zone === zone) : fleet),
    });
    const pendingReason = this.#admissible(fleet, backend, zone, size);
    const timeoutSec = req.timeoutSec ?? null;
    // A warm sandbox may sit in any zone: a create that names one is built there instead.
    const warm = zone
      ? undefined
      : await this.#claimWarm(req, backend, timeoutSec, options.idempotencyKey);
    if (warm) return warm;
    const row = await this.#insert(req, backend, size, timeoutSec, pendingReason);
    let task: Task;
    try {
      task = await this.tasks.submit(
        "vm:create",
        { vmId: row.id },
        {
          vmId: row.id,
          placement: { backend, zone },
          ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
        },
      );
    } catch (err) {
      // No task will ever build it: say so on the sandbox rather than leave it pending forever.
      await this.repos.vms
        .updateStatus(row.id, "pending", "failed", {
          error: `its creation could not be queued: ${(err as Error).message}`,
        })
        .catch(() => undefined);
      throw err;
    }
    return { vm: toVm(row), taskId: task.id };
  }

  /**
   * Records a sandbox (`pending`) the way {@link create} does (validation, backend choice,
   * admission) but queues nothing: the caller's own job builds it on the worker that takes it
   * (a workspace's preparation builds its sandbox where it then runs the steps). Never served
   * from the warm pool, whose sandboxes sit on whichever worker made them.
   */
  async record(body: unknown): Promise<{ vm: Vm; placement: { backend: VmBackend } }> {
    const parsed = createVmBodySchema.safeParse(body ?? {});
    if (!parsed.success) throw new ValidationError(parsed.error, "request body");
    const req = parsed.data;
    const size = {
      vcpus: req.vcpus ?? this.defaults.vcpus,
      memoryMb: req.memoryMb ?? this.defaults.memoryMb,
    };
    const fleet = await this.repos.vms.fleetCapacity();
    const backend = chooseBackend({
      requested: req.backend,
      configured: this.defaults.backend,
      offered: offeredBackends(fleet),
    });
    const pendingReason = this.#admissible(fleet, backend, undefined, size);
    const row = await this.#insert(req, backend, size, req.timeoutSec ?? null, pendingReason);
    return { vm: toVm(row), placement: { backend } };
  }

  async #insert(
    req: CreateVmBody,
    backend: VmBackend,
    size: { vcpus: number; memoryMb: number },
    timeoutSec: number | null,
    pendingReason: string | null,
  ): Promise<VmRow> {
    let row: VmRow;
    try {
      row = await this.repos.vms.create({
        name: req.name ?? `sandbox-${randomBytes(4).toString("hex")}`,
        backend,
        image: req.image ?? this.defaults.image,
        vcpus: size.vcpus,
        memoryMb: size.memoryMb,
        diskMb: req.diskMb ?? this.defaults.diskMb,
        labels: req.labels ?? {},
        env: req.env ?? {},
        network: req.network ?? DEFAULT_NETWORK_POLICY,
        tools: req.tools ?? [],
        timeoutSec,
        onTimeout: req.onTimeout ?? "delete",
        expiresAt: timeoutSec ? new Date(Date.now() + timeoutSec * 1000) : null,
        pendingReason,
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ConflictError(`a sandbox named "${req.name}" already exists`);
      throw err;
    }
    // A bus that fails costs only the notice: the row and its task are the truth.
    await this.bus
      .publish(createEvent("vm.created", { vm: toVm(row), previousStatus: null }))
      .catch((err: unknown) =>
        this.logger?.warn({ err, vmId: row.id }, "could not publish vm.created"),
      );
    return row;
  }

  /**
   * Refuses at once (400) a sandbox no active worker could ever run: a backend none offers, or
   * more vCPUs or memory than any one of them has in total. Otherwise returns why it will wait
   * (every worker that could run it is full now), or null when one has room. With no active
   * worker at all the create is accepted and waits: workers may be starting or restarting.
   */
  #admissible(
    fleet: readonly WorkerCapacityView[],
    backend: VmBackend,
    zone: string | undefined,
    size: { vcpus: number; memoryMb: number },
  ): string | null {
    if (fleet.length === 0) return "waiting for a worker: no worker is active";
    const candidates = fleet.filter(
      (w) => (w.backends ?? []).includes(backend) && (!zone || w.zone === zone),
    );
    if (!candidates.some((w) => couldEverFit(w, size))) {
      const want = `backend "${backend}"${zone ? ` in zone "${zone}"` : ""}, ${size.vcpus} vCPU${
        size.vcpus === 1 ? "" : "s"
      }, ${size.memoryMb} MB`;
      throw new BadRequestError(
        `no active worker can run this sandbox (${want}); the fleet offers: ${describeFleet(fleet)}`,
        { details: { backend, ...(zone ? { zone } : {}), ...size, workers: fleet.map(offer) } },
      );
    }
    return candidates.some((w) => fits(w, size))
      ? null
      : waitingReason(candidates, size, zone ? ` in zone "${zone}"` : "");
  }

  /**
   * A request for the default shape is served from a worker's warm pool when one has a ready
   * sandbox: create becomes a claim (no boot), still recorded as a succeeded `vm:create` task.
   */
  async #claimWarm(
    req: CreateVmBody,
    backend: VmBackend,
    timeoutSec: number | null,
    idempotencyKey: string | undefined,
  ): Promise<{ vm: Vm; taskId: string } | undefined> {
    const d = this.defaults;
    const defaultShape =
      (req.image ?? d.image) === d.image &&
      (req.vcpus ?? d.vcpus) === d.vcpus &&
      (req.memoryMb ?? d.memoryMb) === d.memoryMb &&
      (req.diskMb ?? d.diskMb) === d.diskMb &&
      (req.tools ?? []).length === 0 &&
      (req.network === undefined || req.network.egress === "allow-all");
    if (!defaultShape) return undefined;
    let row: VmRow | undefined;
    try {
      row = await this.repos.vms.claimWarm(
        { backend, image: d.image, vcpus: d.vcpus, memoryMb: d.memoryMb },
        {
          name: req.name ?? `sandbox-${randomBytes(4).toString("hex")}`,
          labels: req.labels ?? {},
          env: req.env ?? {},
          timeoutSec,
          onTimeout: req.onTimeout ?? "delete",
          expiresAt: timeoutSec ? new Date(Date.now() + timeoutSec * 1000) : null,
        },
      );
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ConflictError(`a sandbox named "${req.name}" already exists`);
      throw err;
    }
    if (!row) return undefined;
    const task = await this.repos.tasks.createCompleted({
      type: "vm:create",
      vmId: row.id,
      workerId: row.workerId,
      payload: { vmId: row.id },
      result: { vmId: row.id, status: row.status, fromWarmPool: true },
      idempotencyKey: idempotencyKey ?? null,
    });
    await this.bus.publish(createEvent("vm.running", { vm: toVm(row), previousStatus: null }));
    await this.bus.publish(createEvent("task.succeeded", { task: toTask(task) }));
    return { vm: toVm(row), taskId: task.id };
  }

  /**
   * Which backends the active fleet offers now (every kind, with its count of workers), the
   * configured setting, and the backend a create that names none would get now.
   */
  async backends(): Promise<BackendsResponse> {
    const fleet = await this.repos.vms.fleetCapacity();
    const offered = offeredBackends(fleet);
    return {
      backends: vmBackendSchema.options.map((backend) => {
        const workers = fleet.filter((w) => (w.backends ?? []).includes(backend)).length;
        return { backend, offered: workers > 0, workers };
      }),
      configured: this.defaults.backend,
      default: chooseBackend({ configured: this.defaults.backend, offered }),
    };
  }

  /** One sandbox, or NotFoundError (deleted ones stay readable). */
  async get(id: string): Promise<Vm> {
    const row = await this.#row(id);
    // Counted now: a reason stored when the create was handed back may be stale already.
    if (row.status === "pending") {
      return { ...toVm(row), pendingReason: await explainWait(this.repos, row) };
    }
    return toVm(row);
  }

  /** Newest first, one page at a time. */
  async list(filter: VmListFilter = {}): Promise<Page<Vm>> {
    const page = await this.repos.vms.list(filter);
    return { items: page.items.map(toVm), nextCursor: page.nextCursor };
  }

  /**
   * Sets the time left before the sandbox is deleted automatically (`POST /vms/{id}/timeout`):
   * `timeoutSec` from now, extending or shortening it. Only for sandboxes not yet on their way out.
   */
  async setTimeout(id: string, timeoutSec: number): Promise<Vm> {
    const parsed = setVmTimeoutBodySchema.safeParse({ timeoutSec });
    if (!parsed.success) throw new ValidationError(parsed.error, "request body");
    const row = await this.#row(id);
    const updated = await this.repos.vms.setExpiry(
      id,
      ["pending", "creating", "running", "paused", "stopping", "stopped"],
      new Date(Date.now() + parsed.data.timeoutSec * 1000),
      parsed.data.timeoutSec,
    );
    if (!updated)
      throw new ConflictError(`sandbox ${id} is ${row.status}; its timeout cannot change`);
    return toVm(updated);
  }

  /** Queues deletion on the owning worker; a sandbox no worker has taken yet is deleted here. */
  async delete(id: string): Promise<Task | null> {
    const row = await this.#row(id);
    if (row.status === "deleted") return null;
    if (!row.workerId) {
      const unplaced = await this.repos.tasks.list({ vmId: id, status: ["pending", "queued"] });
      for (const t of unplaced.items) await this.tasks.cancel(t.id).catch(() => undefined);
      const gone = await this.repos.vms.updateStatus(id, [row.status], "deleted");
      if (gone) await this.#publishStatus(gone, row.status);
      // It may have been placed meanwhile: then the worker's delete below is the right path.
      if (gone) return null;
      return this.delete(id);
    }
    return this.tasks.submit("vm:delete", { vmId: id }, { vmId: id, ownerWorkerId: row.workerId });
  }

  /** Queues a stop on the owning worker. */
  async stop(id: string, force = false): Promise<Task> {
    const row = await this.#owned(id, ["running", "creating"], "stop");
    return this.tasks.submit(
      "vm:stop",
      { vmId: id, force },
      { vmId: id, ownerWorkerId: row.workerId },
    );
  }

  /**
   * Queues a pause on the owning worker: the sandbox is frozen in place (its processes keep
   * their memory, get no CPU) until {@link resume}. A paused sandbox does not expire.
   */
  async pause(id: string): Promise<Task> {
    const row = await this.#owned(id, ["running", "paused"], "pause");
    return this.tasks.submit("vm:pause", { vmId: id }, { vmId: id, ownerWorkerId: row.workerId });
  }

  /**
   * Queues a resume of a paused sandbox on its worker; its processes carry on where they were.
   * Its timeout (if it has one) counts again from the resume.
   */
  async resume(id: string): Promise<Task> {
    const row = await this.#owned(id, ["paused", "running"], "resume");
    return this.tasks.submit("vm:resume", { vmId: id }, { vmId: id, ownerWorkerId: row.workerId });
  }

  /** Queues a start of a stopped sandbox on its worker. */
  async start(id: string): Promise<Task> {
    const row = await this.#owned(id, ["stopped"], "start");
    return this.tasks.submit("vm:start", { vmId: id }, { vmId: id, ownerWorkerId: row.workerId });
  }

  async #row(id: string): Promise<VmRow> {
    const row = await this.repos.vms.get(id);
    if (!row) throw new NotFoundError("sandbox", id);
    return row;
  }

  async #owned(
    id: string,
    allowed: readonly VmStatus[],
    action: string,
  ): Promise<VmRow & { workerId: string }> {
    const row = await this.#row(id);
    if (!allowed.includes(row.status) || !row.workerId) {
      throw new ConflictError(`cannot ${action} sandbox ${id} while it is ${row.status}`);
    }
    return row as VmRow & { workerId: string };
  }

  async #publishStatus(row: VmRow, previous: VmStatus): Promise<void> {
    // The event type follows the status reached, so TypeScript cannot pin it to one member.
    const event = createEvent(vmEventTypeForStatus(row.status), {
      vm: toVm(row),
      previousStatus: previous,
    });
    await this.bus.publish(event as DomainEvent);
  }
}

/** The backends at least one of `fleet` runs; names a worker reports that are no backend are left out. */
function offeredBackends(fleet: readonly WorkerCapacityView[]): VmBackend[] {
  const all = new Set(fleet.flatMap((w) => w.backends ?? []));
  return vmBackendSchema.options.filter((b) => all.has(b));
}

function offer(w: WorkerCapacityView): {
  id: string;
  backends: string[];
  zone: string | null;
  vcpus: number;
  memoryMb: number;
  maxVms: number;
} {
  return {
    id: w.id,
    backends: [...(w.backends ?? [])],
    zone: w.zone ?? null,
    vcpus: w.capacity.vcpus,
    memoryMb: w.capacity.memoryMb,
    maxVms: w.capacity.maxVms,
  };
}

/** "w1 (docker; 2 vCPUs, 4096 MB, 10 sandboxes), …" */
function describeFleet(fleet: readonly WorkerCapacityView[]): string {
  return fleet
    .map(
      (w) =>
        `${w.id} (${(w.backends ?? []).join(", ") || "no backend"}${w.zone ? `, zone ${w.zone}` : ""}; ` +
        `${w.capacity.vcpus} vCPUs, ${w.capacity.memoryMb} MB, ${w.capacity.maxVms} sandboxes)`,
    )
    .join("; ");
}
