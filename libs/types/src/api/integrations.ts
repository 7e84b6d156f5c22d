import { z } from "zod";
import { timestampSchema } from "../domain/primitives.js";
import { cursorSchema, limitSchema } from "./pagination.js";

/** The providers that may drive Aetherium: `github`, `slack`, `discord`. */
export const integrationNameSchema = z.enum(["github", "slack", "discord"], {
  error: "integration must be github, slack or discord",
});

/** An integration's name. */
export type IntegrationName = z.infer<typeof integrationNameSchema>;

/**
 * One request a provider sent and what came of it: whether its signature held, what it asked for,
 * the task or prompt it started, and the outcome (`refused`, `ignored`, `answered`, `running`,
 * `succeeded`, `failed`).
 */
export const integrationDeliverySchema = z.object({
  id: z.string(),
  integration: integrationNameSchema,
  event: z.string().describe("the provider's event: issue_comment, slash_command, interaction…"),
  deliveryId: z
    .string()
    .nullable()
    .describe("the provider's id (X-GitHub-Delivery, Slack trigger or event id, interaction id)"),
  verified: z.boolean().describe("whether the request's signature held"),
  replay: z.boolean().describe("a verified delivery received before: refused, nothing started"),
  action: z.string().nullable().describe("run, prompt, ls, check or ping; null when none"),
  target: z.string().nullable().describe("the sandbox or workspace the action named"),
  taskId: z.string().nullable(),
  promptId: z.string().nullable(),
  outcome: z.string(),
  detail: z.string().nullable(),
  receivedAt: timestampSchema,
  finishedAt: timestampSchema.nullable(),
});

/** A recorded delivery (see {@link integrationDeliverySchema}). */
export type IntegrationDelivery = z.infer<typeof integrationDeliverySchema>;

/** Query of `GET /api/v1/integrations/deliveries`: `?limit&cursor&integration`. Newest first. */
export const listIntegrationDeliveriesQuerySchema = z.object({
  limit: limitSchema,
  cursor: cursorSchema.optional(),
  integration: integrationNameSchema.optional(),
});

/** A delivery list query as a client may send it. */
export type ListIntegrationDeliveriesQueryInput = z.input<
  typeof listIntegrationDeliveriesQuerySchema
>;
