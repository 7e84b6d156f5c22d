/** What the prompt code reads of a workspace. */
export interface PromptWorkspace {
  readonly id: string;
  readonly tenant: string;
  readonly name: string;
  readonly status: string;
  readonly vmId: string | null;
  /** `ai_assistant` as stored: `claude-code`, `amp` or `custom`. */
  readonly aiAssistant: string;
  /** `ai_assistant_config`: `{command?, systemPrompt?, model?}`. */
  readonly aiAssistantConfig: Readonly<Record<string, unknown>>;
  readonly workingDirectory: string;
  /** Plain variables of the workspace (its environment's `env` and `env` setup steps). */
  readonly env: Readonly<Record<string, string>>;
}

/** What prompts need of workspaces; `WorkspaceService` implements it. */
export interface PromptWorkspaces {
  /** The workspace by id or name, or NotFoundError (also for another tenant's). */
  get(tenant: string, id: string): Promise<PromptWorkspace>;
  /** Its sandbox, running; fails clearly (ConflictError) when the workspace cannot take a prompt. */
  ensureRunning(tenant: string, id: string): Promise<{ sandboxId: string }>;
  /** Resets the workspace's idle clock. */
  markActive(id: string): Promise<void>;
  /** Workspace and global secrets by name, decrypted (workspace ones win). */
  secretValues(tenant: string, workspaceId: string): Promise<Record<string, string>>;
}
