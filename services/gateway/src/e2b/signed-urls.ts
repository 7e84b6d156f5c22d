import { createHash, timingSafeEqual } from "node:crypto";
import type { Repositories } from "@aetherium/core";
import { apiKeyScopeSchema } from "@aetherium/types";
import { allows } from "../auth/scopes.js";
import { accessTokenFor } from "./access-token.js";
import { ConnectError } from "./connect-protocol.js";

/** What a signed `/files` URL says, as the SDK's `downloadUrl`/`uploadUrl` write it. */
export interface SignedFileRequest {
  /** The `path` query parameter exactly as given (the SDK signs it unresolved), or "". */
  readonly path: string;
  readonly operation: "read" | "write";
  /** The `username` query parameter, or "" for the default user (as the SDK signs it). */
  readonly user: string;
  readonly signature: string;
  /** `signature_expiration`: unix seconds, absent for a signature that does not expire. */
  readonly expiration: number | undefined;
}

/** Most (sandbox, key) pairs one unaddressed signed URL is checked against. */
const MAX_PAIRS = 250_000;

/**
 * envd's signature of a file URL: `v1_` and the unpadded base64 SHA-256 of
 * `path:operation:user:accessToken[:expiration]`.
 */
export function fileSignature(
  req: Omit<SignedFileRequest, "signature">,
  accessToken: string,
): string {
  const parts = [req.path, req.operation, req.user, accessToken];
  if (req.expiration !== undefined) parts.push(String(req.expiration));
  const digest = createHash("sha256").update(parts.join(":")).digest("base64");
  return `v1_${digest.replace(/=+$/, "")}`;
}

/** The signature fields of a `/files` query; undefined when it carries no signature. */
export function signedFileRequest(
  query: Record<string, unknown>,
  operation: "read" | "write",
): SignedFileRequest | undefined {
  const signature = query.signature;
  if (signature === undefined) return undefined;
  if (typeof signature !== "string" || signature.length === 0) {
    throw new ConnectError("invalid_argument", "signature must be one non-empty value");
  }
  const rawExpiration = query.signature_expiration;
  let expiration: number | undefined;
  if (rawExpiration !== undefined) {
    if (typeof rawExpiration !== "string" || !/^-?\d{1,15}$/.test(rawExpiration)) {
      throw new ConnectError(
        "invalid_argument",
        "signature_expiration must be a unix time in whole seconds",
      );
    }
    expiration = Number(rawExpiration);
  }
  return {
    path: typeof query.path === "string" ? query.path : "",
    operation,
    user: typeof query.username === "string" ? query.username : "",
    signature,
    expiration,
  };
}

/**
 * Which of `sandboxIds` a signed URL opens, as envd checks it: the signature must be made with an
 * access token of that sandbox (from a key that is still valid and holds `write`, as the token
 * itself needs), and not be past its expiration. Every candidate is tried because a URL the SDK
 * builds against `E2B_SANDBOX_URL` names no sandbox (it is `<server>/files?…`): the signature is
 * then the only thing that says which sandbox it is for.
 */
export async function sandboxOfSignature(
  repos: Repositories,
  req: SignedFileRequest,
  sandboxIds: readonly string[],
): Promise<string> {
  const keys = (await repos.apiKeys.list()).filter((k) =>
    allows(apiKeyScopeSchema.array().catch([]).parse(k.scopes), "write"),
  );
  if (keys.length * sandboxIds.length > MAX_PAIRS) {
    throw new ConnectError(
      "resource_exhausted",
      "too many sandboxes to find this URL's by its signature: send the E2b-Sandbox-Id header",
    );
  }
  const given = Buffer.from(req.signature);
  for (const sandboxId of sandboxIds) {
    for (const key of keys) {
      const want = Buffer.from(fileSignature(req, accessTokenFor(key.id, key.keyHash, sandboxId)));
      if (want.length !== given.length || !timingSafeEqual(want, given)) continue;
      if (req.expiration !== undefined && req.expiration < Math.floor(Date.now() / 1000)) {
        throw new ConnectError("unauthenticated", "signature is already expired");
      }
      return sandboxId;
    }
  }
  throw new ConnectError("unauthenticated", "invalid signature");
}

/**
 * A request as the request log shows it, with a signed URL's signature hidden: the signature
 * opens a file to whoever holds it until it expires, so it is a credential like the token.
 */
export function logRequestWithoutSignature(req: {
  method: string;
  url: string;
  host?: string;
  ip?: string;
}): Record<string, unknown> {
  return {
    method: req.method,
    url: req.url.replace(/([?&]signature=)[^&]*/g, "$1[redacted]"),
    host: req.host,
    remoteAddress: req.ip,
  };
}
