import type { ApiKeyScope } from "@aetherium/types";

/**
 * Scopes are ranked: `admin` may do what `write` may, and `write` what `read` may. A key's
 * strongest scope decides, so `["write"]` can list what it creates.
 */
const RANK: Record<ApiKeyScope, number> = { read: 1, write: 2, admin: 3 };

/** Whether a key holding `scopes` may act where `needed` is required. */
export function allows(scopes: readonly ApiKeyScope[], needed: ApiKeyScope): boolean {
  return scopes.some((s) => RANK[s] >= RANK[needed]);
}
