import {
  createVmAcceptedResponseSchema,
  pageSchema,
  vmResponseSchema,
  vmSchema,
  IDEMPOTENCY_KEY_HEADER,
  type CreateVmBody,
  type Page,
  type Vm,
  type VmStatus,
} from "@aetherium/types";
import { SandboxError, UnavailableError } from "./errors.js";
import { listParam, pageQuery, type ListOptions } from "./list-options.js";
import { Sandbox } from "./sandbox.js";
import { checkShape, seg, type RequestOptions, type Transport } from "./transport.js";

/** Filters of `client.vms.list()`. */
export interface ListVmsOptions extends ListOptions {
  /** Only sandboxes in one of these statuses. */
  readonly status?: VmStatus | readonly VmStatus[];
  /** Only sandboxes carrying all these labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Only sandboxes on this worker. */
  readonly workerId?: string;
}

/** Options of `client.vms.create()`. */
export interface CreateVmOptions {
  /** Answer once the sandbox is `running` and its agent answers (`?wait=true`). */
  readonly wait?: boolean;
  /** Makes the create safe to retry: the same key returns the first result. */
  readonly idempotencyKey?: string;
  /** Cancels the call. */
  readonly signal?: AbortSignal;
}

function sandboxError(vm: Vm, cause?: Error): SandboxError {
  const why = vm.error ?? cause?.message;
  return new SandboxError(
    `sandbox ${vm.name} (${vm.id}) is ${vm.status}${why ? `: ${why}` : ""}`,
    vm.id,
    vm.status,
    vm.error,
  );
}

/** `client.vms`: create, find and list sandboxes. */
export class VmsApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /**
   * Creates a sandbox. Without `wait` it answers at once with the sandbox `pending` (follow it
   * with `sandbox.waitUntil("running")`); with `wait` once it is running. Throws
   * {@link SandboxError} if it failed on the way.
   */
  async create(body: CreateVmBody = {}, options: CreateVmOptions = {}): Promise<Sandbox> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey) headers[IDEMPOTENCY_KEY_HEADER] = options.idempotencyKey;
    const req: RequestOptions = {
      body,
      headers,
      query: options.wait ? { wait: true } : undefined,
      signal: options.signal,
    };
    if (!options.wait) {
      const res = await this.#t.requestChecked(createVmAcceptedResponseSchema, "POST", "/vms", req);
      return new Sandbox(this.#t, res.vm, res.taskId);
    }
    let answer: unknown;
    try {
      answer = await this.#t.request("POST", "/vms", req);
    } catch (err) {
      // A failed create answers 503 with the sandbox in `details`: say what happened to it.
      const vm = (err as { details?: { vm?: unknown } }).details?.vm;
      const parsed = err instanceof UnavailableError ? vmSchema.safeParse(vm) : undefined;
      if (parsed?.success) throw sandboxError(parsed.data, err as Error);
      throw err;
    }
    const { vm } = checkShape(vmResponseSchema, answer, "POST /vms?wait=true");
    const taskId = (answer as { taskId?: unknown }).taskId;
    const sandbox = new Sandbox(this.#t, vm, typeof taskId === "string" ? taskId : null);
    if (vm.status === "running") return sandbox;
    if (vm.status === "failed" || vm.status === "lost" || vm.status === "deleted") {
      throw sandboxError(vm);
    }
    // The gateway's own wait ran out (202): keep waiting here, so `wait` always means running.
    await sandbox.waitUntil("running", { signal: options.signal });
    return sandbox;
  }

  /** One page of sandboxes, newest first. */
  list(options: ListVmsOptions = {}): Promise<Page<Vm>> {
    const labels = options.labels
      ? Object.entries(options.labels).map(([k, v]) => `${k}=${v}`)
      : undefined;
    return this.#t.requestChecked(pageSchema(vmSchema), "GET", "/vms", {
      query: {
        ...pageQuery(options),
        status: listParam(options.status),
        label: labels,
        workerId: options.workerId,
      },
      signal: options.signal,
    });
  }

  /** Every sandbox matching the filters, fetching page after page as the loop asks. */
  async *iterate(
    options: Omit<ListVmsOptions, "cursor"> = {},
  ): AsyncGenerator<Vm, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...options, cursor });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /** A handle on sandbox `id`; throws `NotFoundError` if there is none. */
  async get(id: string, options: { signal?: AbortSignal } = {}): Promise<Sandbox> {
    const { vm } = await this.#t.requestChecked(vmResponseSchema, "GET", `/vms/${seg(id)}`, {
      signal: options.signal,
    });
    return new Sandbox(this.#t, vm);
  }
}
