import { ConflictError, NotFoundError, UnavailableError } from "@aetherium/common";
import type { Repositories } from "@aetherium/core";
import type { VmBackend } from "@aetherium/types";
import type { SandboxManager } from "./sandbox-manager.js";

/**
 * The sandbox managers of one worker, one per backend it offers, and the one rule that says
 * which of them answers for a sandbox: the backend its record names.
 */
export class SandboxManagers {
  readonly #byKind: ReadonlyMap<VmBackend, SandboxManager>;

  constructor(
    managers: Iterable<SandboxManager>,
    /** Where a sandbox's backend is read when there are several; not needed for one or none. */
    private readonly repos?: Pick<Repositories, "vms">,
  ) {
    this.#byKind = new Map([...managers].map((m) => [m.kind, m]));
  }

  /** The backends with a manager here, in the order they were registered. */
  get backends(): VmBackend[] {
    return [...this.#byKind.keys()];
  }

  /** Whether this worker can run sandboxes at all. */
  get ready(): boolean {
    return this.#byKind.size > 0;
  }

  /** The manager of one backend, if this worker offers it. */
  of(kind: VmBackend): SandboxManager | undefined {
    return this.#byKind.get(kind);
  }

  /** Every manager. */
  all(): SandboxManager[] {
    return [...this.#byKind.values()];
  }

  /**
   * The manager that answers for `sandboxId`. With one backend that is the only manager (which
   * itself refuses a sandbox of another backend or worker), so the hot path reads no record
   * twice; with several, the record's backend decides.
   */
  async for(sandboxId: string): Promise<SandboxManager> {
    const only = this.#byKind.size === 1 ? this.all()[0] : undefined;
    if (only) return only;
    if (this.#byKind.size === 0 || !this.repos) {
      throw new UnavailableError("this worker has no sandbox backend ready");
    }
    const row = await this.repos.vms.get(sandboxId);
    if (!row || row.status === "deleted") throw new NotFoundError("sandbox", sandboxId);
    const manager = row.backend ? this.#byKind.get(row.backend as VmBackend) : undefined;
    if (!manager) {
      throw new ConflictError(
        `sandbox ${sandboxId} runs on the ${row.backend} backend, which this worker does not offer`,
      );
    }
    return manager;
  }

  /** Closes every manager. */
  async close(): Promise<void> {
    for (const m of this.all()) await m.close();
  }
}
