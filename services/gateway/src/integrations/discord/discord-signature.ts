import { createPublicKey, verify, type KeyObject } from "node:crypto";

// DER prefix of an Ed25519 SubjectPublicKeyInfo: Node takes raw 32-byte keys only wrapped in it.
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** How far `X-Signature-Timestamp` may be from now before the request counts as a replay. */
export const DISCORD_MAX_SKEW_SEC = 5 * 60;

/** A Discord application's public key (64 hex characters) as a Node key. */
export function discordPublicKey(hex: string): KeyObject {
  return createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, "hex")]),
    format: "der",
    type: "spki",
  });
}

/**
 * Why a Discord interaction fails verification, or undefined when it passes: `X-Signature-Ed25519`
 * must be the Ed25519 signature of `X-Signature-Timestamp` followed by the raw body.
 */
export function discordVerificationProblem(
  key: KeyObject,
  headers: Readonly<Record<string, string | undefined>>,
  body: Buffer,
  nowSec = Math.floor(Date.now() / 1000),
): string | undefined {
  const signature = headers["x-signature-ed25519"];
  const timestamp = headers["x-signature-timestamp"];
  if (!signature || !timestamp) {
    return "missing X-Signature-Ed25519 or X-Signature-Timestamp header";
  }
  if (!/^[0-9a-fA-F]{128}$/.test(signature)) return "X-Signature-Ed25519 is not a signature";
  const signed = Buffer.concat([Buffer.from(timestamp, "utf8"), body]);
  if (!verify(null, signed, key, Buffer.from(signature, "hex"))) {
    return "X-Signature-Ed25519 does not match the body";
  }
  if (
    !/^\d{1,12}$/.test(timestamp) ||
    Math.abs(nowSec - Number(timestamp)) > DISCORD_MAX_SKEW_SEC
  ) {
    return "X-Signature-Timestamp is more than five minutes from now (a replay or a wrong clock)";
  }
  return undefined;
}
