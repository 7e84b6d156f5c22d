import { createHmac, timingSafeEqual } from "node:crypto";

// Binds the proof to this protocol, so the token's HMAC over the same bytes elsewhere is no proof.
const PROOF_CONTEXT = "aetherium-agent-proof:";

/**
 * The answer to `agent.auth`: `hex(HMAC-SHA256(token, "aetherium-agent-proof:" + nonce))`.
 * Shared by the agent (which computes it) and the host client (which checks it).
 */
export function agentProof(token: string, nonce: string): string {
  return createHmac("sha256", token).update(PROOF_CONTEXT).update(nonce).digest("hex");
}

/** Whether `proof` is the right answer for `token` and `nonce` (compared in constant time). */
export function isAgentProof(token: string, nonce: string, proof: string | null): boolean {
  if (proof === null) return false;
  const expected = Buffer.from(agentProof(token, nonce), "hex");
  const given = Buffer.from(proof, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
