import { z } from "zod";
import { environmentSchema, mcpServerSchema } from "../domain/environment.js";
import { networkPolicySchema } from "../domain/network-policy.js";
import { absolutePathSchema, envVarsSchema, resourceNameSchema } from "../domain/primitives.js";
import { toolsSchema } from "../domain/tool-spec.js";
import { vmBackendSchema } from "../domain/vm.js";
import { imageRefSchema, memoryMbSchema, vcpusSchema } from "./vms.js";

/** Defaults an environment gets for fields its create request leaves out (the original's, repaired). */
export const ENVIRONMENT_DEFAULTS = {
  vcpus: 2,
  memoryMb: 2048,
  gitBranch: "main",
  workingDirectory: "/workspace",
  tools: ["git", "node@20"],
  idleTimeoutSec: 1800,
} as const;

/** Idle timeout bounds: 1 minute to 1 day. */
export const idleTimeoutSecSchema = z
  .number()
  .int("idleTimeoutSec must be an integer")
  .min(60, "idleTimeoutSec must be between 60 and 86400")
  .max(86_400, "idleTimeoutSec must be between 60 and 86400");

/** Fields of an environment a client sets; shared by create (with defaults) and update (partial). */
const environmentFields = z.strictObject({
  name: resourceNameSchema,
  description: z.string().max(2000, "description is at most 2000 characters"),
  backend: vmBackendSchema.nullable(),
  image: imageRefSchema.nullable(),
  vcpus: vcpusSchema,
  memoryMb: memoryMbSchema,
  gitRepoUrl: z.string().min(1).max(2000).nullable(),
  gitBranch: z.string().min(1).max(255),
  workingDirectory: absolutePathSchema,
  tools: toolsSchema,
  envVars: envVarsSchema,
  mcpServers: z.array(mcpServerSchema).max(32, "at most 32 MCP servers"),
  network: networkPolicySchema,
  idleTimeoutSec: idleTimeoutSecSchema,
});

/** Body of `POST /api/v1/environments`: `name` is required, the rest default ({@link ENVIRONMENT_DEFAULTS}). */
export const createEnvironmentBodySchema = environmentFields.extend({
  description: environmentFields.shape.description.default(""),
  backend: environmentFields.shape.backend.default(null),
  image: environmentFields.shape.image.default(null),
  vcpus: vcpusSchema.default(ENVIRONMENT_DEFAULTS.vcpus),
  memoryMb: memoryMbSchema.default(ENVIRONMENT_DEFAULTS.memoryMb),
  gitRepoUrl: environmentFields.shape.gitRepoUrl.default(null),
  gitBranch: environmentFields.shape.gitBranch.default(ENVIRONMENT_DEFAULTS.gitBranch),
  workingDirectory: absolutePathSchema.default(ENVIRONMENT_DEFAULTS.workingDirectory),
  tools: toolsSchema.default(() => [...ENVIRONMENT_DEFAULTS.tools]),
  envVars: envVarsSchema.default(() => ({})),
  mcpServers: environmentFields.shape.mcpServers.default(() => []),
  network: networkPolicySchema.default(() => ({ egress: "allow-all" as const })),
  idleTimeoutSec: idleTimeoutSecSchema.default(ENVIRONMENT_DEFAULTS.idleTimeoutSec),
});

/** A create-environment body. */
export type CreateEnvironmentBody = z.infer<typeof createEnvironmentBodySchema>;

/**
 * Body of `PUT /api/v1/environments/{id}`: a partial update. Given fields replace stored ones
 * (lists and maps as a whole); `null` clears a nullable field. Unlike the original, `0` or `""` are
 * not silently ignored: they are validated like any value.
 */
export const updateEnvironmentBodySchema = environmentFields.partial();

/** An update-environment body. */
export type UpdateEnvironmentBody = z.infer<typeof updateEnvironmentBodySchema>;

/** `{environment}`: answer of create (`201`), get and update. */
export const environmentResponseSchema = z.object({ environment: environmentSchema });

/** `{environment}` response. */
export type EnvironmentResponse = z.infer<typeof environmentResponseSchema>;
