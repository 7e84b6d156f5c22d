import { createHash, randomBytes } from "node:crypto";

/** Every secret starts with this, so a leaked key is recognisable (and greppable) as ours. */
export const API_KEY_PREFIX = "ak_";

/** The prefix of secrets in the shape the `e2b` SDKs accept (`e2b_` + hex). */
export const E2B_API_KEY_PREFIX = "e2b_";

/** How many characters of a secret a listing shows, prefix included. */
const SHOWN_CHARS = 10;

/** A freshly made key: the secret (shown once) and what is stored in its place. */
export interface GeneratedApiKey {
  readonly secret: string;
  readonly hash: string;
  readonly prefix: string;
}

/**
 * A new secret: `ak_` + 32 random bytes in base64url. base64url keeps it a valid HTTP token, so
 * browsers can pass it as a WebSocket subprotocol (`bearer.<key>`), where headers are not allowed.
 */
export function generateApiKey(format: "aetherium" | "e2b" = "aetherium"): GeneratedApiKey {
  // The e2b shape is hex only; 20 bytes (160 bits) as E2B's own keys carry, still unguessable.
  const secret =
    format === "e2b"
      ? E2B_API_KEY_PREFIX + randomBytes(20).toString("hex")
      : API_KEY_PREFIX + randomBytes(32).toString("base64url");
  return { secret, hash: hashApiKey(secret), prefix: secret.slice(0, SHOWN_CHARS) };
}

/**
 * What is stored for a secret. A plain SHA-256 is the right hash here: secrets carry 256 random
 * bits, so there is nothing to brute-force, and the lookup runs on every request.
 */
export function hashApiKey(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** The first characters of a secret, as listings show them. */
export function apiKeyPrefix(secret: string): string {
  return secret.slice(0, SHOWN_CHARS);
}
