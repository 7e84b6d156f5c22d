-- Environments (templates), workspaces (AI-assistant sandboxes) and what hangs off them.
-- Repaired from the original: names unique per tenant instead of globally, a workspace survives
-- the deletion of its sandbox row (vm_id ON DELETE SET NULL), timestamps kept current by trigger,
-- and no UNIQUE NULLS NOT DISTINCT (PostgreSQL 15+ only): partial unique indexes instead.

CREATE TABLE environments (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant            text NOT NULL DEFAULT 'default',
  name              text NOT NULL,
  description       text,
  image             text,
  vcpus             integer NOT NULL DEFAULT 2 CHECK (vcpus > 0),
  memory_mb         integer NOT NULL DEFAULT 2048 CHECK (memory_mb > 0),
  disk_mb           integer CHECK (disk_mb IS NULL OR disk_mb > 0),
  git_repo_url      text,
  git_branch        text NOT NULL DEFAULT 'main',
  working_directory text NOT NULL DEFAULT '/workspace',
  tools             jsonb NOT NULL DEFAULT '[]',
  -- Plain (non-secret) variables; secrets live in workspace_secrets.
  env_vars          jsonb NOT NULL DEFAULT '{}',
  mcp_servers       jsonb NOT NULL DEFAULT '[]',
  idle_timeout_sec  integer NOT NULL DEFAULT 1800 CHECK (idle_timeout_sec >= 0),
  created_at        timestamptz(3) NOT NULL DEFAULT now(),
  updated_at        timestamptz(3) NOT NULL DEFAULT now(),
  CONSTRAINT environments_tenant_name_key UNIQUE (tenant, name)
);
CREATE TRIGGER environments_set_updated_at BEFORE UPDATE ON environments
  FOR EACH ROW EXECUTE FUNCTION aetherium_set_updated_at();

CREATE TABLE workspaces (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant              text NOT NULL DEFAULT 'default',
  name                text NOT NULL,
  description         text,
  -- SET NULL, not CASCADE: losing or recycling the sandbox parks the workspace, it does not
  -- erase its prompts, secrets and history (bug 16.2 #4 of the original).
  vm_id               uuid REFERENCES vms (id) ON DELETE SET NULL,
  environment_id      uuid REFERENCES environments (id) ON DELETE SET NULL,
  status              text NOT NULL DEFAULT 'creating',
  ai_assistant        text NOT NULL DEFAULT 'claude-code',
  ai_assistant_config jsonb NOT NULL DEFAULT '{}',
  working_directory   text NOT NULL DEFAULT '/workspace',
  idle_since          timestamptz(3),
  created_at          timestamptz(3) NOT NULL DEFAULT now(),
  updated_at          timestamptz(3) NOT NULL DEFAULT now(),
  ready_at            timestamptz(3),
  stopped_at          timestamptz(3),
  metadata            jsonb NOT NULL DEFAULT '{}',
  CONSTRAINT workspaces_tenant_name_key UNIQUE (tenant, name)
);
CREATE INDEX workspaces_status_idx ON workspaces (status);
CREATE INDEX workspaces_vm_id_idx ON workspaces (vm_id);
CREATE INDEX workspaces_environment_id_idx ON workspaces (environment_id)
  WHERE environment_id IS NOT NULL;
CREATE INDEX workspaces_created_at_idx ON workspaces (created_at DESC, id DESC);
-- The idle sweeper looks only at ready workspaces that have gone quiet.
CREATE INDEX workspaces_idle_idx ON workspaces (idle_since)
  WHERE status = 'ready' AND idle_since IS NOT NULL;
CREATE TRIGGER workspaces_set_updated_at BEFORE UPDATE ON workspaces
  FOR EACH ROW EXECUTE FUNCTION aetherium_set_updated_at();

CREATE TABLE workspace_secrets (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant          text NOT NULL DEFAULT 'default',
  -- NULL means a tenant-wide (global) secret.
  workspace_id    uuid REFERENCES workspaces (id) ON DELETE CASCADE,
  name            text NOT NULL,
  description     text,
  secret_type     text NOT NULL DEFAULT 'api_key',
  encrypted_value bytea NOT NULL,
  nonce           bytea NOT NULL,
  -- Which key encrypted the value, so keys can rotate without re-encrypting everything at once.
  key_id          text NOT NULL DEFAULT 'default',
  scope           text NOT NULL DEFAULT 'workspace' CHECK (scope IN ('workspace', 'global')),
  created_at      timestamptz(3) NOT NULL DEFAULT now(),
  updated_at      timestamptz(3) NOT NULL DEFAULT now(),
  CONSTRAINT workspace_secrets_scope_workspace_check CHECK ((scope = 'global') = (workspace_id IS NULL))
);
-- Two partial indexes do what UNIQUE NULLS NOT DISTINCT (workspace_id, name) did, on any version.
CREATE UNIQUE INDEX workspace_secrets_workspace_name_key ON workspace_secrets (workspace_id, name)
  WHERE workspace_id IS NOT NULL;
CREATE UNIQUE INDEX workspace_secrets_global_name_key ON workspace_secrets (tenant, name)
  WHERE workspace_id IS NULL;
CREATE TRIGGER workspace_secrets_set_updated_at BEFORE UPDATE ON workspace_secrets
  FOR EACH ROW EXECUTE FUNCTION aetherium_set_updated_at();

CREATE TABLE workspace_prep_steps (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  step_type    text NOT NULL,
  step_order   integer NOT NULL DEFAULT 0,
  config       jsonb NOT NULL DEFAULT '{}',
  status       text NOT NULL DEFAULT 'pending',
  exit_code    integer,
  stdout       text,
  stderr       text,
  error        text,
  created_at   timestamptz(3) NOT NULL DEFAULT now(),
  started_at   timestamptz(3),
  completed_at timestamptz(3),
  duration_ms  integer,
  metadata     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX workspace_prep_steps_workspace_order_idx
  ON workspace_prep_steps (workspace_id, step_order);

CREATE TABLE prompt_tasks (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- The durable task that runs the prompt.
  task_id           uuid REFERENCES tasks (id) ON DELETE SET NULL,
  prompt            text NOT NULL,
  system_prompt     text,
  working_directory text,
  environment       jsonb NOT NULL DEFAULT '{}',
  priority          integer NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 10),
  status            text NOT NULL DEFAULT 'pending',
  -- Where the prompt came from: dashboard, api, webhook, ...
  source            text,
  exit_code         integer,
  stdout            text,
  stderr            text,
  error             text,
  created_at        timestamptz(3) NOT NULL DEFAULT now(),
  updated_at        timestamptz(3) NOT NULL DEFAULT now(),
  scheduled_at      timestamptz(3) NOT NULL DEFAULT now(),
  started_at        timestamptz(3),
  completed_at      timestamptz(3),
  duration_ms       integer,
  metadata          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX prompt_tasks_workspace_created_at_idx
  ON prompt_tasks (workspace_id, created_at DESC, id DESC);
CREATE INDEX prompt_tasks_status_idx ON prompt_tasks (status);
CREATE INDEX prompt_tasks_dispatch_idx ON prompt_tasks (workspace_id, priority DESC, scheduled_at)
  WHERE status = 'pending';
CREATE TRIGGER prompt_tasks_set_updated_at BEFORE UPDATE ON prompt_tasks
  FOR EACH ROW EXECUTE FUNCTION aetherium_set_updated_at();

CREATE TABLE workspace_sessions (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  status           text NOT NULL DEFAULT 'active',
  client_ip        text,
  user_agent       text,
  connected_at     timestamptz(3) NOT NULL DEFAULT now(),
  last_activity_at timestamptz(3) NOT NULL DEFAULT now(),
  disconnected_at  timestamptz(3),
  metadata         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX workspace_sessions_workspace_connected_idx
  ON workspace_sessions (workspace_id, connected_at DESC);
CREATE INDEX workspace_sessions_status_idx ON workspace_sessions (status);

CREATE TABLE session_messages (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id   uuid NOT NULL REFERENCES workspace_sessions (id) ON DELETE CASCADE,
  message_type text NOT NULL,
  content      text NOT NULL,
  exit_code    integer,
  created_at   timestamptz(3) NOT NULL DEFAULT now(),
  metadata     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX session_messages_session_created_at_idx
  ON session_messages (session_id, created_at, id);
