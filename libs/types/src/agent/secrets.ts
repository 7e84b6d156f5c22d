import { z } from "zod";
import { agentEnvSchema } from "./common.js";

/**
 * Params of `secrets.set`. Secrets live in agent memory only: never written to disk, never logged,
 * and merged into the environment of every process started afterwards (request `env` wins over a
 * secret of the same name, a secret wins over the agent's own environment).
 */
export const secretsSetParamsSchema = z.object({
  /** Name → value. */
  secrets: agentEnvSchema,
  /** Replace every secret set before (`true`), or merge into them (default). */
  replace: z.boolean().optional(),
});

/** Params of `secrets.set`. */
export type SecretsSetParams = z.infer<typeof secretsSetParamsSchema>;

/** Result of `secrets.set`: how many secrets the agent now holds (never their values). */
export const secretsSetResultSchema = z.object({ count: z.number().int() });

/** Result of `secrets.set`. */
export type SecretsSetResult = z.infer<typeof secretsSetResultSchema>;
