-- Environments carry their whole specification (backend, network, secret names, setup steps, the
-- agent, the repository's token secret); a workspace keeps a snapshot of the environment it was
-- made from, why it failed, and names its preparation steps.

ALTER TABLE environments
  ADD COLUMN backend text,
  ADD COLUMN network jsonb NOT NULL DEFAULT '{"egress":"allow-all"}',
  ADD COLUMN secret_names jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN setup jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN agent jsonb NOT NULL DEFAULT '{"type":"claude-code"}',
  ADD COLUMN git_token_secret text;
-- No branch means the repository's default branch.
ALTER TABLE environments ALTER COLUMN git_branch DROP NOT NULL;
ALTER TABLE environments ALTER COLUMN git_branch DROP DEFAULT;

ALTER TABLE workspaces
  ADD COLUMN spec jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN error text,
  ADD COLUMN failed_step text;

ALTER TABLE workspace_prep_steps ADD COLUMN name text NOT NULL DEFAULT '';
