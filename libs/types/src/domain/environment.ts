import { z } from "zod";
import { environmentIdSchema } from "./ids.js";
import { networkPolicySchema } from "./network-policy.js";
import {
  absolutePathSchema,
  envNameSchema,
  envVarsSchema,
  resourceNameSchema,
  timestampSchema,
} from "./primitives.js";
import { toolsSchema } from "./tool-spec.js";
import { vmBackendSchema } from "./vm.js";

const mcpServerName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "must be 1-64 letters, digits, '_', '.' or '-'");

/**
 * An MCP server the agent runs as a child process. `${VAR}` in `command`, `args` and `env` is
 * expanded from the environment's `env` when the agent's config is written; a `${VAR}` naming a
 * secret is left for the agent to expand from its process environment, so no secret value is
 * written to the sandbox's disk.
 */
export const mcpStdioServerSchema = z.strictObject({
  name: mcpServerName,
  type: z.literal("stdio"),
  command: z
    .string({ error: "command is required for stdio servers" })
    .min(1, "command is required for stdio servers")
    .max(4096),
  args: z.array(z.string().max(4096)).max(64, "at most 64 args").optional(),
  env: z.record(z.string(), z.string().max(65_536)).optional(),
});

/** An MCP server reached over HTTP; `${VAR}` in `url` and `headers` expands as for stdio servers. */
export const mcpHttpServerSchema = z.strictObject({
  name: mcpServerName,
  type: z.literal("http"),
  url: z
    .string({ error: "url is required for http servers" })
    .min(1, "url is required for http servers")
    .max(4096),
  headers: z.record(z.string(), z.string().max(65_536)).optional(),
});

/** An MCP server the agent in a workspace is configured with. */
export const mcpServerSchema = z.discriminatedUnion(
  "type",
  [mcpStdioServerSchema, mcpHttpServerSchema],
  { error: 'type must be "stdio" or "http"' },
);

/** An MCP server configuration. */
export type McpServer = z.infer<typeof mcpServerSchema>;

/** The coding agent a workspace runs prompts with. */
export const agentTypeSchema = z.enum(["claude-code", "amp", "custom"], {
  error: 'must be "claude-code", "amp" or "custom"',
});

/** An agent type. */
export type AgentType = z.infer<typeof agentTypeSchema>;

/**
 * The agent of an environment's workspaces. `command` is required for `custom` (it runs through
 * `/bin/sh -c` with the prompt on stdin); for the others it replaces the agent's executable.
 */
export const agentSpecSchema = z
  .strictObject({
    type: agentTypeSchema,
    command: z.string().min(1, "command must not be empty").max(4096).optional(),
    systemPrompt: z.string().max(1_048_576, "systemPrompt is at most 1 MiB").optional(),
    model: z.string().min(1).max(200).optional(),
  })
  .refine((a) => a.type !== "custom" || a.command !== undefined, {
    message: 'command is required when type is "custom"',
    path: ["command"],
  });

/** An agent specification. */
export type AgentSpec = z.infer<typeof agentSpecSchema>;

/**
 * The repository a workspace clones into `dir` (default `/workspace`, also the agent's working
 * directory). `tokenSecret` names a secret holding an HTTPS token: it is handed to git for the
 * clone only and never written into the clone's `.git/config`.
 */
export const repoSpecSchema = z.strictObject({
  url: z
    .string({ error: "url is required" })
    .min(1, "url is required")
    .max(2000)
    .refine((u) => !/^-/.test(u), "url must not start with '-'"),
  branch: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^-\s][^\s]*$/, "branch must not start with '-' or contain spaces")
    .optional(),
  dir: absolutePathSchema.optional(),
  tokenSecret: envNameSchema.optional(),
});

/** A repository specification. */
export type RepoSpec = z.infer<typeof repoSpecSchema>;

/** A setup step, run in order after the clone and the tools: a shell script, or a plain variable. */
export const setupStepSchema = z.discriminatedUnion(
  "type",
  [
    z.strictObject({
      type: z.literal("script"),
      run: z
        .string({ error: "run is required for script steps" })
        .min(1, "run is required for script steps")
        .max(1_048_576),
    }),
    z.strictObject({ type: z.literal("env"), name: envNameSchema, value: z.string().max(65_536) }),
  ],
  { error: 'type must be "script" or "env"' },
);

/** A setup step. */
export type SetupStep = z.infer<typeof setupStepSchema>;

/**
 * A reusable workspace template: what sandbox to make (backend, image, size, network), what to
 * put in it (repository, tools, setup steps, MCP servers) and which agent answers prompts there.
 * `env` is plain configuration, returned as stored; `secrets` only names secrets (workspace or
 * global) whose values reach the agent's environment and are never returned.
 */
export const environmentSchema = z.object({
  id: environmentIdSchema,
  name: resourceNameSchema,
  description: z.string(),
  backend: vmBackendSchema.nullable(),
  image: z.string().nullable(),
  vcpus: z.number().int().positive(),
  memoryMb: z.number().int().positive(),
  diskMb: z.number().int().positive().nullable(),
  repo: repoSpecSchema.nullable(),
  tools: toolsSchema,
  env: envVarsSchema,
  secrets: z.array(z.string()),
  mcpServers: z.array(mcpServerSchema),
  setup: z.array(setupStepSchema),
  agent: agentSpecSchema,
  idleTimeoutSec: z.number().int().positive(),
  network: networkPolicySchema,
  createdAt: timestampSchema,
  updatedAt: timestampSchema,
});

/** An environment template (see {@link environmentSchema}). */
export type Environment = z.infer<typeof environmentSchema>;
