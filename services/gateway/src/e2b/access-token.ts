import { createHmac, timingSafeEqual } from "node:crypto";
import type { Repositories } from "@aetherium/core";
import { apiKeyScopeSchema } from "@aetherium/types";
import { allows } from "../auth/scopes.js";

/**
 * The envd access token of a sandbox: `<keyId>.<hmac>`, the HMAC of the sandbox id keyed by the
 * stored hash of the API key that asked for it. Nothing is stored: any gateway recomputes it, a
 * `connect` gives the same token back, and revoking the key (or taking its `write` scope away)
 * ends every token it was given, so scopes apply to the in-sandbox API as they do to `/api/v1`.
 * The hash is only in the database, never in an answer, so a token cannot be made from outside.
 */
export function accessTokenFor(keyId: string, keyHash: string, sandboxId: string): string {
  return `${keyId}.${mac(keyHash, sandboxId)}`;
}

/**
 * The traffic access token of a sandbox created with `allowPublicTraffic: false`: made like the
 * envd token, for another purpose, so neither opens what the other does.
 */
export function trafficTokenFor(keyId: string, keyHash: string, sandboxId: string): string {
  return `${keyId}.${mac(keyHash, sandboxId, "e2b-traffic")}`;
}

function mac(keyHash: string, sandboxId: string, purpose = "e2b-envd"): string {
  return createHmac("sha256", keyHash).update(`${purpose}:${sandboxId}`).digest("hex");
}

/** Whether `token` is the traffic access token of `sandboxId` from a key still valid. */
export async function trafficTokenOpens(
  repos: Repositories,
  token: string,
  sandboxId: string,
): Promise<boolean> {
  const m = /^([0-9a-f-]{36})\.([0-9a-f]{64})$/.exec(token);
  if (!m) return false;
  const [, keyId, given] = m as unknown as [string, string, string];
  const row = await repos.apiKeys.get(keyId);
  if (!row || row.revokedAt) return false;
  const want = Buffer.from(mac(row.keyHash, sandboxId, "e2b-traffic"), "hex");
  return timingSafeEqual(want, Buffer.from(given, "hex"));
}

/**
 * Whether `token` opens `sandboxId`: well formed, made for this sandbox, by a key that is still
 * valid and still holds `write` (the in-sandbox API runs commands and writes files).
 */
export async function accessTokenOpens(
  repos: Repositories,
  token: string,
  sandboxId: string,
): Promise<boolean> {
  const m = /^([0-9a-f-]{36})\.([0-9a-f]{64})$/.exec(token);
  if (!m) return false;
  const [, keyId, given] = m as unknown as [string, string, string];
  const row = await repos.apiKeys.get(keyId);
  if (!row || row.revokedAt) return false;
  const scopes = apiKeyScopeSchema.array().catch([]).parse(row.scopes);
  if (!allows(scopes, "write")) return false;
  const want = Buffer.from(mac(row.keyHash, sandboxId), "hex");
  return timingSafeEqual(want, Buffer.from(given, "hex"));
}
