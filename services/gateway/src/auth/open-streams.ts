import type { Logger } from "@aetherium/common";
import type { Repositories } from "@aetherium/core";
import type { WebSocket } from "ws";

/** Close code sent to a stream whose key was revoked (1008: policy violation). */
export const REVOKED_CLOSE_CODE = 1008;

/**
 * The WebSocket streams open on this gateway, by the key that opened them. Requests check their
 * key on every call, but a stream authenticates once, at its start: without this a revoked key
 * would keep its event or terminal stream for as long as the client liked. A revocation made here
 * closes its streams at once; one made on another gateway is found by a sweep every `intervalMs`
 * (one query per key with open streams, not per stream).
 */
export class OpenStreams {
  readonly #byKey = new Map<string, Set<WebSocket>>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly deps: { repos: Repositories; logger: Logger },
    intervalMs = 5000,
  ) {
    this.#timer = setInterval(() => void this.#sweep(), intervalMs);
    this.#timer.unref();
  }

  /** Follows `socket`, opened with key `keyId`, until it closes. */
  track(socket: WebSocket, keyId: string | undefined): void {
    if (!keyId) return;
    let set = this.#byKey.get(keyId);
    if (!set) this.#byKey.set(keyId, (set = new Set()));
    set.add(socket);
    socket.once("close", () => {
      set.delete(socket);
      if (set.size === 0 && this.#byKey.get(keyId) === set) this.#byKey.delete(keyId);
    });
  }

  /** Closes every stream of `keyId` (it was just revoked). */
  revoked(keyId: string): void {
    for (const socket of this.#byKey.get(keyId) ?? []) {
      socket.close(REVOKED_CLOSE_CODE, "API key revoked");
    }
  }

  /** Stops the sweep (the server is closing). */
  close(): void {
    clearInterval(this.#timer);
  }

  async #sweep(): Promise<void> {
    for (const keyId of [...this.#byKey.keys()]) {
      try {
        const row = await this.deps.repos.apiKeys.get(keyId);
        if (!row || row.revokedAt) this.revoked(keyId);
      } catch (err) {
        this.deps.logger.warn({ err }, "could not re-check the key of an open stream");
      }
    }
  }
}
