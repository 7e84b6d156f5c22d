import { executionResponseSchema, type Execution } from "@aetherium/types";
import { seg, type Transport } from "./transport.js";

/** `client.executions`: recorded commands. */
export class ExecutionsApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** The execution record `id` (output capped; see the `…Truncated` flags). */
  async get(id: string, options: { signal?: AbortSignal } = {}): Promise<Execution> {
    const body = await this.#t.requestChecked(
      executionResponseSchema,
      "GET",
      `/executions/${seg(id)}`,
      { signal: options.signal },
    );
    return body.execution;
  }
}
