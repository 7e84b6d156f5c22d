import { z } from "zod";

/**
 * Params of `agent.auth`: a fresh random challenge from the client (hex, 32 to 128
 * characters), so an answer recorded once is worth nothing later.
 */
export const agentAuthParamsSchema = z.object({
  nonce: z.string().regex(/^[0-9a-f]{32,128}$/, "nonce must be 32 to 128 lowercase hex characters"),
});

/**
 * Result of `agent.auth`: the agent's proof that it holds its sandbox's token,
 * `hex(HMAC-SHA256(token, "aetherium-agent-proof:" + nonce))`, or `null` when it was started
 * without one.
 */
export const agentAuthResultSchema = z.object({
  proof: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
});

/** Params of `agent.auth`. */
export type AgentAuthParams = z.infer<typeof agentAuthParamsSchema>;

/** Result of `agent.auth`. */
export type AgentAuthResult = z.infer<typeof agentAuthResultSchema>;
