import {
  createWorkspaceAcceptedResponseSchema,
  pageSchema,
  secretMetadataSchema,
  secretResponseSchema,
  workspaceResponseSchema,
  workspaceSchema,
  type createWorkspaceBodySchema,
  type Page,
  type PrepStep,
  type SecretMetadata,
  type Workspace,
  type WorkspaceStatus,
} from "@aetherium/types";
import { z } from "zod";
import { AetheriumApiError, NotFoundError, TimeoutError } from "./errors.js";
import { subscribeEvents, type EventSubscription } from "./events.js";
import { listParam, pageQuery, type ListOptions } from "./list-options.js";
import type { SetSecretRequest } from "./secrets-api.js";
import { checkShape, seg, type Transport } from "./transport.js";

/** A create-workspace request: `name` and `environment` (an environment's id or name). */
export type CreateWorkspaceRequest = z.input<typeof createWorkspaceBodySchema>;

/** Filters of {@link WorkspacesApi.list}. */
export interface ListWorkspacesOptions extends ListOptions {
  readonly status?: WorkspaceStatus | readonly WorkspaceStatus[];
  readonly environmentId?: string;
}

/** How to wait for a workspace to be prepared. */
export interface WorkspaceWaitOptions {
  /** Give up after this long (default 15 minutes: tool installs can be slow). */
  readonly timeoutMs?: number;
  /** How often to look (default 1 s). */
  readonly intervalMs?: number;
  readonly signal?: AbortSignal;
  /**
   * Called with the workspace whenever its status or one of its preparation steps changed
   * (a step started, finished or failed): progress for a person watching.
   */
  readonly onProgress?: (workspace: Workspace) => void;
  /**
   * Follow the live event stream (`workspace.*` events) so each step shows the moment it moves;
   * polling every `intervalMs` stays as the safety net. Default true; set false where WebSockets
   * cannot pass (then only polling).
   */
  readonly live?: boolean;
}

/** Options of {@link WorkspacesApi.create}. */
export interface CreateWorkspaceOptions extends WorkspaceWaitOptions {
  /** Resolve once the workspace is `ready` (throws {@link WorkspaceError} if it failed). */
  readonly wait?: boolean;
}

/**
 * A workspace ended `failed` (or vanished) while the caller waited for it to be ready. `step`
 * names the preparation step that failed; `workspace` is the last snapshot, with every step's
 * output.
 */
export class WorkspaceError extends AetheriumApiError {
  override name = "WorkspaceError";
  constructor(
    message: string,
    /** The last snapshot seen. */
    readonly workspace: Workspace,
    /** The failed step's name (`tool node@20`, `clone`, …), when one failed. */
    readonly step: string | null,
  ) {
    super(message, "workspace_failed", 0);
  }
}

const secretListSchema = z.object({ items: z.array(secretMetadataSchema) });

/** What changed between two snapshots, as one string: status plus each step's status. */
function progressKey(w: Workspace): string {
  return [w.status, ...w.prepSteps.map((s) => `${s.id}:${s.status}`)].join("|");
}

/** `w` with `step` in place of the step of the same id (added when new). */
function withStep(w: Workspace, step: PrepStep): Workspace {
  const has = w.prepSteps.some((s) => s.id === step.id);
  return {
    ...w,
    prepSteps: has ? w.prepSteps.map((s) => (s.id === step.id ? step : s)) : [...w.prepSteps, step],
  };
}

/**
 * `client.workspaces`: prepared sandboxes for coding agents, made from an environment, and their
 * own secrets (write-only values).
 */
export class WorkspacesApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /**
   * Creates a workspace from an environment. Without `wait` it answers at once (status
   * `creating`); with `wait` once it is `ready`, calling `onProgress` as its preparation steps
   * move. Throws {@link WorkspaceError} if preparation failed.
   */
  async create(
    body: CreateWorkspaceRequest,
    options: CreateWorkspaceOptions = {},
  ): Promise<Workspace> {
    // With a progress callback the SDK follows the steps itself; otherwise the gateway waits.
    const gatewayWaits = options.wait === true && options.onProgress === undefined;
    const answer = await this.#t.request("POST", "/workspaces", {
      body,
      query: gatewayWaits ? { wait: true } : undefined,
      signal: options.signal,
    });
    const { workspace } = (answer as { taskId?: unknown }).taskId
      ? checkShape(createWorkspaceAcceptedResponseSchema, answer, "POST /workspaces")
      : checkShape(workspaceResponseSchema, answer, "POST /workspaces?wait=true");
    if (!options.wait) return workspace;
    return this.waitUntilReady(workspace.id, options);
  }

  /** One page of workspaces, newest first. */
  list(options: ListWorkspacesOptions = {}): Promise<Page<Workspace>> {
    return this.#t.requestChecked(pageSchema(workspaceSchema), "GET", "/workspaces", {
      query: {
        ...pageQuery(options),
        status: listParam(options.status),
        environmentId: options.environmentId,
      },
      signal: options.signal,
    });
  }

  /** One workspace with its preparation steps. */
  async get(id: string, options: { signal?: AbortSignal } = {}): Promise<Workspace> {
    const res = await this.#t.requestChecked(
      workspaceResponseSchema,
      "GET",
      `/workspaces/${seg(id)}`,
      { signal: options.signal },
    );
    return res.workspace;
  }

  /** The workspace's preparation steps in the order they run, with status, output and duration. */
  async steps(id: string, options: { signal?: AbortSignal } = {}): Promise<PrepStep[]> {
    const w = await this.get(id, options);
    return [...w.prepSteps].sort((a, b) => a.order - b.order);
  }

  /**
   * Deletes the workspace: its sandbox, files, secrets and history. The gateway removes the
   * sandbox first, so without `wait` the workspace may still be listed for a moment; with `wait`
   * this resolves once it is gone (the gateway waits, then the SDK looks until `timeoutMs`).
   */
  async delete(
    id: string,
    options: { wait?: boolean; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    const answer = await this.#t.request("DELETE", `/workspaces/${seg(id)}`, {
      query: options.wait ? { wait: true } : undefined,
      signal: options.signal,
    });
    // 204 (no body): gone. 202 `{taskId}`: still removing its sandbox.
    if (!options.wait || answer === undefined || answer === null) return;
    const timeoutMs = options.timeoutMs ?? 5 * 60_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.get(id, { signal: options.signal });
      } catch (err) {
        if (err instanceof NotFoundError) return;
        throw err;
      }
      if (Date.now() >= deadline) {
        throw new TimeoutError(
          `workspace ${id} is still being deleted after ${timeoutMs} ms`,
          timeoutMs,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
      options.signal?.throwIfAborted();
    }
  }

  /**
   * Follows a workspace's preparation: yields a snapshot each time its status or a step's status
   * changes (the first snapshot at once), and ends after the one that is `ready`, `idle` or
   * `failed`. Step events from the live stream arrive as they happen; a poll every `intervalMs`
   * catches up whatever the stream missed. Throws {@link TimeoutError} when `timeoutMs` passes and
   * {@link NotFoundError} when the workspace is deleted meanwhile.
   */
  async *watch(
    id: string,
    options: Omit<WorkspaceWaitOptions, "onProgress"> = {},
  ): AsyncGenerator<Workspace, void, undefined> {
    const timeoutMs = options.timeoutMs ?? 15 * 60_000;
    const interval = options.intervalMs ?? 1000;
    const deadline = Date.now() + timeoutMs;
    let latest: Workspace | undefined;
    let deleted = false;
    let wake: (() => void) | undefined;
    const nudge = () => {
      wake?.();
      wake = undefined;
    };
    let sub: EventSubscription | undefined;
    if (options.live !== false) {
      sub = subscribeEvents(
        this.#t,
        { topics: ["workspace"] },
        (event) => {
          const data = event.data as {
            workspace?: Workspace;
            workspaceId?: string;
            step?: PrepStep;
          };
          // `id` may be a name: events carry ids, so match on the id the first read gave.
          if (event.type === "workspace.step") {
            if (!latest || data.workspaceId !== latest.id || !data.step) return;
            latest = withStep(latest, data.step);
          } else if (data.workspace && data.workspace.id === (latest?.id ?? id)) {
            if (event.type === "workspace.deleted") deleted = true;
            latest = data.workspace;
          } else return;
          nudge();
        },
        // A stream that cannot open or drops leaves the poll in charge; nothing to report.
        { onError: () => undefined },
      );
    }
    const onAbort = () => nudge();
    options.signal?.addEventListener("abort", onAbort);
    let last: string | undefined;
    let nextPoll = 0;
    try {
      for (;;) {
        if (Date.now() >= nextPoll) {
          latest = await this.get(id, { signal: options.signal });
          nextPoll = Date.now() + interval;
        }
        if (deleted) throw new NotFoundError(`workspace ${id} was deleted`, "not_found", 404);
        const w = latest;
        if (!w) continue;
        const key = progressKey(w);
        if (key !== last) {
          last = key;
          yield w;
        }
        if (w.status === "ready" || w.status === "idle" || w.status === "failed") return;
        if (Date.now() >= deadline) {
          throw new TimeoutError(
            `workspace ${w.name} (${w.id}) is still ${w.status} after ${timeoutMs} ms`,
            timeoutMs,
          );
        }
        options.signal?.throwIfAborted();
        // Sleep until the next poll, the deadline, or an event for this workspace.
        const wait = Math.max(0, Math.min(nextPoll, deadline) - Date.now());
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        options.signal?.throwIfAborted();
      }
    } finally {
      sub?.close();
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Waits until the workspace is `ready` (or `idle`: prepared, sandbox stopped), calling
   * `onProgress` as it moves (see {@link watch}). Throws {@link WorkspaceError} once it is
   * `failed`, {@link TimeoutError} when `timeoutMs` passes.
   */
  async waitUntilReady(id: string, options: WorkspaceWaitOptions = {}): Promise<Workspace> {
    let last: Workspace | undefined;
    for await (const w of this.watch(id, options)) {
      last = w;
      options.onProgress?.(w);
    }
    const w = last as Workspace;
    if (w.status === "failed") {
      throw new WorkspaceError(
        `workspace ${w.name} (${w.id}) failed${w.failedStep ? ` at step ${w.failedStep}` : ""}` +
          (w.error ? `: ${w.error}` : ""),
        w,
        w.failedStep,
      );
    }
    return w;
  }

  /** Adds a secret to this workspace, or replaces the value of one of the same name. */
  async setSecret(
    id: string,
    body: SetSecretRequest,
    options: { signal?: AbortSignal } = {},
  ): Promise<SecretMetadata> {
    const res = await this.#t.requestChecked(
      secretResponseSchema,
      "POST",
      `/workspaces/${seg(id)}/secrets`,
      { body, signal: options.signal },
    );
    return res.secret;
  }

  /** The workspace's own secrets' metadata (never values). */
  async listSecrets(id: string, options: { signal?: AbortSignal } = {}): Promise<SecretMetadata[]> {
    const res = await this.#t.requestChecked(
      secretListSchema,
      "GET",
      `/workspaces/${seg(id)}/secrets`,
      { signal: options.signal },
    );
    return res.items;
  }

  /** Deletes one of the workspace's secrets by name. */
  async deleteSecret(
    id: string,
    name: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.#t.request("DELETE", `/workspaces/${seg(id)}/secrets/${seg(name)}`, {
      signal: options.signal,
    });
  }
}
