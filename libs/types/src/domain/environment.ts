import { z } from "zod";
import { environmentIdSchema } from "./ids.js";
import { networkPolicySchema } from "./network-policy.js";
import {
  absolutePathSchema,
  envVarsSchema,
  resourceNameSchema,
  timestampSchema,
} from "./primitives.js";
import { toolsSchema } from "./tool-spec.js";
import { vmBackendSchema } from "./vm.js";

const mcpServerName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "must be 1-64 letters, digits, '_', '.' or '-'");

/** An MCP server run as a child process of the AI assistant. */
export const mcpStdioServerSchema = z.object({
  name: mcpServerName,
  type: z.literal("stdio"),
  command: z.string().min(1, "command is required for stdio servers"),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
});

/**
 * An MCP server reached over HTTP. `${VAR}` placeholders in `url`, `headers` and `env` are expanded
 * from the environment's `envVars` when the assistant's settings are written.
 */
export const mcpHttpServerSchema = z.object({
  name: mcpServerName,
  type: z.literal("http"),
  url: z.string().min(1, "url is required for http servers"),
  headers: z.record(z.string(), z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
});

/** An MCP server the AI assistant in a workspace is configured with. */
export const mcpServerSchema = z.discriminatedUnion(
  "type",
  [mcpStdioServerSchema, mcpHttpServerSchema],
  {
    error: 'type must be "stdio" or "http"',
  },
);

/** An MCP server configuration. */
export type McpServer = z.infer<typeof mcpServerSchema>;

/**
 * A reusable workspace template: sandbox size and kind, repository to clone, tools, environment
 * variables, MCP servers and idle timeout.
 *
 * `envVars` are configuration, returned as stored; credentials belong in workspace secrets, which
 * are encrypted and never returned. A workspace idle for `idleTimeoutSec` has its sandbox removed
 * and is parked (`idle`), not deleted.
 */
export const environmentSchema = z.object({
  id: environmentIdSchema,
  name: resourceNameSchema,
  description: z.string(),
  backend: vmBackendSchema.nullable(),
  image: z.string().nullable(),
  vcpus: z.number().int().positive(),
  memoryMb: z.number().int().positive(),
  gitRepoUrl: z.string().nullable(),
  gitBranch: z.string(),
  workingDirectory: absolutePathSchema,
  tools: toolsSchema,
  envVars: envVarsSchema,
  mcpServers: z.array(mcpServerSchema),
  network: networkPolicySchema,
  idleTimeoutSec: z.number().int().positive(),
  createdAt: timestampSchema,
  updatedAt: timestampSchema,
});

/** An environment template (see {@link environmentSchema}). */
export type Environment = z.infer<typeof environmentSchema>;
