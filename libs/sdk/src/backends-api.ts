import { backendsResponseSchema, type BackendsResponse } from "@aetherium/types";
import type { Transport } from "./transport.js";

/** `client.backends`: the sandbox backends the fleet offers. */
export class BackendsApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /**
   * Every backend kind with whether an active worker offers it now (and how many do), the
   * configured default (`auto` or one backend) and the backend a create naming none gets now.
   * A create naming a backend no active worker offers is refused with `BadRequestError`.
   */
  list(options: { signal?: AbortSignal } = {}): Promise<BackendsResponse> {
    return this.#t.requestChecked(backendsResponseSchema, "GET", "/backends", {
      signal: options.signal,
    });
  }
}
