import { UnauthorizedError, UnavailableError } from "@aetherium/common";
import { dataPlaneTargetFor, type DataPlaneTarget, type Repositories } from "@aetherium/core";

/** Runs data-plane calls against the worker that owns a sandbox. */
export type WithOwner = <T>(
  vmId: string,
  fn: (target: DataPlaneTarget) => Promise<T>,
) => Promise<T>;

/**
 * Makes {@link WithOwner} over `repos`. Where a sandbox lives is remembered for `ttlMs`: it takes
 * two queries to find, and every exec would pay them. A stale entry cannot do harm — the worker
 * checks on every request that it owns the sandbox and that it runs, and any failure drops the
 * entry — so the cache only saves lookups, never decides anything.
 *
 * A worker that restarted has a new internal token and answers 401; that is our stale read, not
 * the caller's key, so the owner is looked up afresh and `fn` tried once more (the worker refuses
 * before it runs anything, so nothing runs twice). A second refusal becomes a 503: the caller's
 * own key was fine, and passing the 401 on would tell them otherwise.
 */
export function createOwnerLookup(
  repos: Repositories,
  options: { ttlMs?: number } = {},
): WithOwner {
  const ttlMs = options.ttlMs ?? 5000;
  const known = new Map<string, { target: DataPlaneTarget; until: number }>();
  const lookup = async (vmId: string, fresh: boolean) => {
    const hit = known.get(vmId);
    if (!fresh && hit && hit.until > Date.now()) return hit.target;
    const target = await dataPlaneTargetFor(repos, vmId);
    if (known.size > 10_000) known.clear(); // bounded; a miss costs two queries, nothing more
    known.set(vmId, { target, until: Date.now() + ttlMs });
    return target;
  };
  return async (vmId, fn) => {
    try {
      return await fn(await lookup(vmId, false));
    } catch (err) {
      known.delete(vmId);
      if (!(err instanceof UnauthorizedError)) throw err;
    }
    const again = await lookup(vmId, true);
    try {
      return await fn(again);
    } catch (err) {
      known.delete(vmId);
      if (!(err instanceof UnauthorizedError)) throw err;
      throw new UnavailableError(
        `worker ${again.workerId} refused this gateway; it may be restarting, try again`,
      );
    }
  };
}
