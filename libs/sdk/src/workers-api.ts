import {
  pageSchema,
  workerResponseSchema,
  workerSchema,
  type Page,
  type Worker,
  type WorkerStatus,
} from "@aetherium/types";
import { listParam, pageQuery, type ListOptions } from "./list-options.js";
import { seg, type Transport } from "./transport.js";

/** Filters of `client.workers.list()`. */
export interface ListWorkersOptions extends ListOptions {
  /** Only workers in one of these statuses. */
  readonly status?: WorkerStatus | readonly WorkerStatus[];
  /** Only workers of this zone. */
  readonly zone?: string;
}

/** `client.workers`: worker hosts. */
export class WorkersApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** One page of workers. */
  list(options: ListWorkersOptions = {}): Promise<Page<Worker>> {
    return this.#t.requestChecked(pageSchema(workerSchema), "GET", "/workers", {
      query: { ...pageQuery(options), status: listParam(options.status), zone: options.zone },
      signal: options.signal,
    });
  }

  /** Worker `id`. */
  async get(id: string, options: { signal?: AbortSignal } = {}): Promise<Worker> {
    return (
      await this.#t.requestChecked(workerResponseSchema, "GET", `/workers/${seg(id)}`, {
        signal: options.signal,
      })
    ).worker;
  }

  /** Sets worker `id` to drain: it keeps its sandboxes and takes no new ones (admin scope). */
  async drain(id: string, options: { signal?: AbortSignal } = {}): Promise<Worker> {
    return (
      await this.#t.requestChecked(workerResponseSchema, "POST", `/workers/${seg(id)}/drain`, {
        signal: options.signal,
      })
    ).worker;
  }

  /** Makes a draining worker take new sandboxes again (admin scope). */
  async activate(id: string, options: { signal?: AbortSignal } = {}): Promise<Worker> {
    return (
      await this.#t.requestChecked(workerResponseSchema, "POST", `/workers/${seg(id)}/activate`, {
        signal: options.signal,
      })
    ).worker;
  }
}
