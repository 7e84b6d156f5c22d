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
import { AetheriumApiError, TimeoutError } from "./errors.js";
import { listParam, pageQuery, type ListOptions } from "./list-options.js";
import type { SetSecretRequest } from "./secrets-api.js";
import { sleep } from "./timing.js";
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

  /** Deletes the workspace: its sandbox, files, secrets and history. */
  async delete(id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#t.request("DELETE", `/workspaces/${seg(id)}`, { signal: options.signal });
  }

  /**
   * Polls until the workspace is `ready` (or `idle`: prepared, sandbox stopped). Throws
   * {@link WorkspaceError} once it is `failed`, {@link TimeoutError} when `timeoutMs` passes.
   */
  async waitUntilReady(id: string, options: WorkspaceWaitOptions = {}): Promise<Workspace> {
    const timeoutMs = options.timeoutMs ?? 15 * 60_000;
    const interval = options.intervalMs ?? 1000;
    const deadline = Date.now() + timeoutMs;
    let last: string | undefined;
    for (;;) {
      const w = await this.get(id, { signal: options.signal });
      const key = progressKey(w);
      if (key !== last) {
        last = key;
        options.onProgress?.(w);
      }
      if (w.status === "ready" || w.status === "idle") return w;
      if (w.status === "failed") {
        throw new WorkspaceError(
          `workspace ${w.name} (${w.id}) failed${w.failedStep ? ` at step ${w.failedStep}` : ""}` +
            (w.error ? `: ${w.error}` : ""),
          w,
          w.failedStep,
        );
      }
      if (Date.now() >= deadline) {
        throw new TimeoutError(
          `workspace ${w.name} (${w.id}) is still ${w.status} after ${timeoutMs} ms`,
          timeoutMs,
        );
      }
      await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), options.signal);
    }
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
