/**
 * One stable, readable `operationId` per operation, keyed `METHOD /route/pattern` like the scope
 * table. Generated clients name their methods after these, so renaming one is an API change. A
 * route missing here still gets an id derived from its method and path (see `operationIdFor`);
 * give it a proper name when you add it.
 */
export const OPERATION_IDS: Readonly<Record<string, string>> = {
  "GET /api/v1/health": "getHealth",
  "GET /metrics": "getMetrics",

  "POST /api/v1/vms": "createVm",
  "GET /api/v1/vms": "listVms",
  "GET /api/v1/vms/{id}": "getVm",
  "DELETE /api/v1/vms/{id}": "deleteVm",
  "POST /api/v1/vms/{id}/stop": "stopVm",
  "POST /api/v1/vms/{id}/start": "startVm",
  "POST /api/v1/vms/{id}/pause": "pauseVm",
  "POST /api/v1/vms/{id}/resume": "resumeVm",
  "POST /api/v1/vms/{id}/timeout": "setVmTimeout",

  "POST /api/v1/vms/{id}/execute": "executeCommand",
  "GET /api/v1/vms/{id}/exec": "openExecStream",
  "GET /api/v1/vms/{id}/executions": "listVmExecutions",
  "GET /api/v1/executions/{id}": "getExecution",

  "GET /api/v1/vms/{id}/files": "readFile",
  "PUT /api/v1/vms/{id}/files": "writeFile",
  "DELETE /api/v1/vms/{id}/files": "deleteFile",
  "GET /api/v1/vms/{id}/files/list": "listFiles",

  "GET /api/v1/tasks": "listTasks",
  "GET /api/v1/tasks/{id}": "getTask",
  "POST /api/v1/tasks/{id}/cancel": "cancelTask",

  "GET /api/v1/workers": "listWorkers",
  "GET /api/v1/workers/{id}": "getWorker",
  "POST /api/v1/workers/{id}/drain": "drainWorker",
  "POST /api/v1/workers/{id}/activate": "activateWorker",
  "GET /api/v1/cluster/stats": "getClusterStats",
  "GET /api/v1/backends": "listBackends",

  "POST /api/v1/workspaces/{id}/prompts": "submitPrompt",
  "GET /api/v1/workspaces/{id}/prompts": "listPrompts",
  "GET /api/v1/workspaces/{id}/prompts/{promptId}": "getPrompt",
  "POST /api/v1/workspaces/{id}/prompts/{promptId}/cancel": "cancelPrompt",
  "GET /api/v1/workspaces/{id}/sessions": "listWorkspaceSessions",
  "GET /api/v1/workspaces/{id}/sessions/{sessionId}": "getWorkspaceSession",
  "GET /api/v1/workspaces/{id}/ws": "openWorkspaceSession",

  "POST /api/v1/api-keys": "createApiKey",
  "GET /api/v1/api-keys": "listApiKeys",
  "DELETE /api/v1/api-keys/{id}": "revokeApiKey",

  "GET /api/v1/events": "streamEvents",

  "POST /api/v1/integrations/github/webhook": "receiveGithubWebhook",
  "POST /api/v1/integrations/slack/commands": "receiveSlackCommand",
  "POST /api/v1/integrations/slack/events": "receiveSlackEvent",
  "POST /api/v1/integrations/discord/interactions": "receiveDiscordInteraction",
  "GET /api/v1/integrations/deliveries": "listIntegrationDeliveries",
  "POST /api/v1/environments": "createEnvironment",
  "GET /api/v1/environments": "listEnvironments",
  "GET /api/v1/environments/{id}": "getEnvironment",
  "PUT /api/v1/environments/{id}": "updateEnvironment",
  "DELETE /api/v1/environments/{id}": "deleteEnvironment",

  "POST /api/v1/secrets": "setGlobalSecret",
  "GET /api/v1/secrets": "listGlobalSecrets",
  "DELETE /api/v1/secrets/{name}": "deleteGlobalSecret",
};

/** The operation's id: from the table, else `method` + the path's words in camel case. */
export function operationIdFor(method: string, path: string): string {
  const known = OPERATION_IDS[`${method.toUpperCase()} ${path}`];
  if (known) return known;
  const words = path
    .replace(/^\/api\/v1\//, "")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return [method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join("");
}
