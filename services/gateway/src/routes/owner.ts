import { UnauthorizedError, UnavailableError } from "@aetherium/common";
import { dataPlaneTargetFor, type DataPlaneTarget, type Repositories } from "@aetherium/core";

/**
 * Runs `fn` against the worker that owns `vmId`. A worker that restarted since its row was read
 * has a new internal token and answers 401; that is our stale read, not the caller's key, so the
 * owner is looked up again and `fn` tried once more. A second refusal becomes a 503: the client's
 * own key was fine, and a 401 would tell them otherwise.
 */
export async function withOwner<T>(
  repos: Repositories,
  vmId: string,
  fn: (target: DataPlaneTarget) => Promise<T>,
): Promise<T> {
  const first = await dataPlaneTargetFor(repos, vmId);
  try {
    return await fn(first);
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
  }
  const again = await dataPlaneTargetFor(repos, vmId);
  try {
    return await fn(again);
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
    throw new UnavailableError(
      `worker ${again.workerId} refused this gateway; it may be restarting, try again`,
    );
  }
}
