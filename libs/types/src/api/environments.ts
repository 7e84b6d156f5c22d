import { z } from "zod";
import {
  agentSpecSchema,
  environmentSchema,
  mcpServerSchema,
  repoSpecSchema,
  setupStepSchema,
} from "../domain/environment.js";
import { networkPolicySchema } from "../domain/network-policy.js";
import { envNameSchema, envVarsSchema, resourceNameSchema } from "../domain/primitives.js";
import { toolsSchema } from "../domain/tool-spec.js";
import { vmBackendSchema } from "../domain/vm.js";
import { diskMbSchema, imageRefSchema, memoryMbSchema, vcpusSchema } from "./vms.js";

/** Defaults an environment gets for fields its create request leaves out. */
export const ENVIRONMENT_DEFAULTS = {
  vcpus: 2,
  memoryMb: 2048,
  workingDirectory: "/workspace",
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
  diskMb: diskMbSchema.nullable(),
  repo: repoSpecSchema.nullable(),
  tools: toolsSchema,
  env: envVarsSchema,
  secrets: z
    .array(envNameSchema)
    .max(64, "at most 64 secrets")
    .refine((names) => new Set(names).size === names.length, "secret names must be unique"),
  mcpServers: z
    .array(mcpServerSchema)
    .max(32, "at most 32 MCP servers")
    .refine(
      (servers) => new Set(servers.map((s) => s.name)).size === servers.length,
      "MCP server names must be unique",
    ),
  setup: z.array(setupStepSchema).max(64, "at most 64 setup steps"),
  agent: agentSpecSchema,
  idleTimeoutSec: idleTimeoutSecSchema,
  network: networkPolicySchema,
});

/**
 * Body of `POST /api/v1/environments`: `name` and `agent` are required, the rest default
 * ({@link ENVIRONMENT_DEFAULTS}; no repository, tools, setup or MCP servers; allow-all egress).
 */
export const createEnvironmentBodySchema = environmentFields.extend({
  description: environmentFields.shape.description.default(""),
  backend: environmentFields.shape.backend.default(null),
  image: environmentFields.shape.image.default(null),
  vcpus: vcpusSchema.default(ENVIRONMENT_DEFAULTS.vcpus),
  memoryMb: memoryMbSchema.default(ENVIRONMENT_DEFAULTS.memoryMb),
  diskMb: environmentFields.shape.diskMb.default(null),
  repo: environmentFields.shape.repo.default(null),
  tools: toolsSchema.default(() => []),
  env: envVarsSchema.default(() => ({})),
  secrets: environmentFields.shape.secrets.default(() => []),
  mcpServers: environmentFields.shape.mcpServers.default(() => []),
  setup: environmentFields.shape.setup.default(() => []),
  idleTimeoutSec: idleTimeoutSecSchema.default(ENVIRONMENT_DEFAULTS.idleTimeoutSec),
  network: networkPolicySchema.default(() => ({ egress: "allow-all" as const })),
});

/** A create-environment body. */
export type CreateEnvironmentBody = z.infer<typeof createEnvironmentBodySchema>;

/**
 * Body of `PUT /api/v1/environments/{id}`: a partial update. Given fields replace stored ones
 * (lists and maps as a whole); `null` clears a nullable field. Workspaces already made keep the
 * environment they were made from.
 */
export const updateEnvironmentBodySchema = environmentFields.partial();

/** An update-environment body. */
export type UpdateEnvironmentBody = z.infer<typeof updateEnvironmentBodySchema>;

/** `{environment}`: answer of create (`201`), get and update. */
export const environmentResponseSchema = z.object({ environment: environmentSchema });

/** `{environment}` response. */
export type EnvironmentResponse = z.infer<typeof environmentResponseSchema>;
