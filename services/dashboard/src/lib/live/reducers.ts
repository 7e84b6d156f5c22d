/**
 * How live events change what the dashboard already shows: each event carries a snapshot of the
 * entity after the change, so lists are patched in place instead of refetched.
 * @module
 */
import type { Page, PrepStep, Task, Vm, Worker, Workspace } from "@aetherium/types";

/** Client-side filter of the sandbox list (the same fields the API filters on). */
export interface VmFilter {
  readonly status?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly workerId?: string;
  /** Show `deleted` sandboxes (hidden unless asked for). */
  readonly includeDeleted?: boolean;
}

/** True when `vm` belongs in a list shown with `filter`. */
export function vmMatches(vm: Vm, filter: VmFilter): boolean {
  if (filter.status && filter.status.length > 0) {
    if (!filter.status.includes(vm.status)) return false;
  } else if (vm.status === "deleted" && !filter.includeDeleted) return false;
  if (filter.workerId && vm.workerId !== filter.workerId) return false;
  for (const [k, v] of Object.entries(filter.labels ?? {})) {
    if (vm.labels[k] !== v) return false;
  }
  return true;
}

/** Keeps the items that match; used on a freshly fetched page too. */
export function filterVms(vms: readonly Vm[], filter: VmFilter): Vm[] {
  return vms.filter((vm) => vmMatches(vm, filter));
}

function byNewest<T extends { createdAt: string }>(a: T, b: T): number {
  return b.createdAt.localeCompare(a.createdAt);
}

/**
 * Upserts `item` into a newest-first page: replaced where it is, inserted in createdAt order when
 * new and `keep` (unless it is older than a cut-short page's last row), removed when it no longer
 * belongs. Returns the same page when nothing changed.
 */
export function upsertIntoPage<T extends { id: string; createdAt: string }>(
  page: Page<T> | undefined,
  item: T,
  keep: boolean,
): Page<T> | undefined {
  if (!page) return page;
  const idx = page.items.findIndex((x) => x.id === item.id);
  if (idx < 0 && !keep) return page;
  // A list cut short by paging ("Show more") holds the newest rows only: an update to an older row
  // that is not shown belongs to a page not loaded yet, not at the bottom of this one.
  const last = page.items.at(-1);
  if (idx < 0 && page.nextCursor !== null && last !== undefined && item.createdAt <= last.createdAt)
    return page;
  let items: T[];
  if (idx >= 0 && !keep) items = page.items.filter((x) => x.id !== item.id);
  else if (idx >= 0) items = page.items.map((x, i) => (i === idx ? item : x));
  else items = [...page.items, item].sort(byNewest);
  return { ...page, items };
}

/** Applies a `vm.*` event's snapshot to a sandbox list page shown with `filter`. */
export function applyVmToPage(
  page: Page<Vm> | undefined,
  vm: Vm,
  filter: VmFilter,
): Page<Vm> | undefined {
  return upsertIntoPage(page, vm, vmMatches(vm, filter));
}

/** Client-side filter of the task list. */
export interface TaskFilter {
  readonly status?: readonly string[];
  readonly type?: readonly string[];
  readonly vmId?: string;
}

export function taskMatches(task: Task, filter: TaskFilter): boolean {
  if (filter.status?.length && !filter.status.includes(task.status)) return false;
  if (filter.type?.length && !filter.type.includes(task.type)) return false;
  if (filter.vmId && task.vmId !== filter.vmId) return false;
  return true;
}

/** Applies a `task.*` event's snapshot to a task list page shown with `filter`. */
export function applyTaskToPage(
  page: Page<Task> | undefined,
  task: Task,
  filter: TaskFilter,
): Page<Task> | undefined {
  return upsertIntoPage(page, task, taskMatches(task, filter));
}

/** Applies a `worker.*` event's snapshot to the worker list (workers are never removed, only go offline). */
export function applyWorkerToList(
  page: Page<Worker> | undefined,
  worker: Worker,
): Page<Worker> | undefined {
  if (!page) return page;
  const idx = page.items.findIndex((w) => w.id === worker.id);
  if (idx < 0) return { ...page, items: [...page.items, worker] };
  return { ...page, items: page.items.map((w, i) => (i === idx ? worker : w)) };
}

/**
 * Applies a `workspace.*` status event's snapshot to the workspace list: upserted, or removed when
 * the event is `workspace.deleted`.
 */
export function applyWorkspaceToPage(
  page: Page<Workspace> | undefined,
  workspace: Workspace,
  deleted: boolean,
): Page<Workspace> | undefined {
  return upsertIntoPage(page, workspace, !deleted);
}

/**
 * Applies a `workspace.step` event to a workspace snapshot: the step replaces the one with its id,
 * or joins the list (steps are shown in `order`). Unknown workspace: unchanged.
 */
export function applyStepToWorkspace(
  workspace: Workspace | undefined,
  step: PrepStep,
): Workspace | undefined {
  if (!workspace) return workspace;
  const has = workspace.prepSteps.some((s) => s.id === step.id);
  const prepSteps = has
    ? workspace.prepSteps.map((s) => (s.id === step.id ? step : s))
    : [...workspace.prepSteps, step];
  return { ...workspace, prepSteps };
}

/** What an event is about, so the cache knows which queries to patch. */
export type EventSubject =
  | { readonly kind: "vm"; readonly vm: Vm }
  | { readonly kind: "task"; readonly task: Task }
  | { readonly kind: "worker"; readonly worker: Worker }
  | { readonly kind: "workspace"; readonly workspace: Workspace; readonly deleted: boolean }
  | { readonly kind: "step"; readonly workspaceId: string; readonly step: PrepStep }
  | { readonly kind: "other"; readonly entity: string };

/** Reads the entity snapshot out of an event `{type, data}`; unknown shapes are `other`. */
export function eventSubject(type: string, data: unknown): EventSubject {
  const entity = type.split(".")[0] ?? "";
  const d = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const snap = d[entity];
  const ok =
    typeof snap === "object" && snap !== null && typeof (snap as { id?: unknown }).id === "string";
  if (ok && entity === "vm") return { kind: "vm", vm: snap as Vm };
  if (ok && entity === "task") return { kind: "task", task: snap as Task };
  if (ok && entity === "worker") return { kind: "worker", worker: snap as Worker };
  if (ok && entity === "workspace")
    return {
      kind: "workspace",
      workspace: snap as Workspace,
      deleted: type === "workspace.deleted",
    };
  const step = d.step as { id?: unknown } | undefined;
  if (
    type === "workspace.step" &&
    typeof d.workspaceId === "string" &&
    typeof step?.id === "string"
  )
    return { kind: "step", workspaceId: d.workspaceId, step: step as PrepStep };
  return { kind: "other", entity };
}
