import { clusterStatsSchema, type ClusterStats } from "@aetherium/types";
import type { Transport } from "./transport.js";

/** `client.cluster`: fleet-wide totals. */
export class ClusterApi {
  readonly #t: Transport;
  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** Workers, capacity, usage, sandboxes by status and queue depths. */
  stats(options: { signal?: AbortSignal } = {}): Promise<ClusterStats> {
    return this.#t.requestChecked(clusterStatsSchema, "GET", "/cluster/stats", {
      signal: options.signal,
    });
  }
}
