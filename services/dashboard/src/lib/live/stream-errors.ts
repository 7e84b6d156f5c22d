/**
 * What the dashboard does with each error the SDK's event subscription reports.
 * @module
 */
import { AetheriumApiError, AuthError, ContractError } from "@aetherium/sdk";

/**
 * - `skip`: one event did not fit the catalog; the stream goes on.
 * - `logout`: the key is no longer accepted (401); the subscription has ended.
 * - `stop`: refused for good for another reason (403, bad topics); the subscription has ended.
 * - `retry`: the stream dropped; the SDK reconnects with backoff.
 */
export type StreamErrorAction = "skip" | "logout" | "stop" | "retry";

export function classifyStreamError(err: unknown): StreamErrorAction {
  if (err instanceof ContractError) return "skip";
  if (err instanceof AuthError) return err.status === 401 ? "logout" : "stop";
  if (err instanceof AetheriumApiError && (err.status === 400 || err.status === 404)) return "stop";
  return "retry";
}
