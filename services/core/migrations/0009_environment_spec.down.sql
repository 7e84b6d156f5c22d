ALTER TABLE workspace_prep_steps DROP COLUMN name;

ALTER TABLE workspaces
  DROP COLUMN failed_step,
  DROP COLUMN error,
  DROP COLUMN spec;

UPDATE environments SET git_branch = 'main' WHERE git_branch IS NULL;
ALTER TABLE environments ALTER COLUMN git_branch SET DEFAULT 'main';
ALTER TABLE environments ALTER COLUMN git_branch SET NOT NULL;
ALTER TABLE environments
  DROP COLUMN git_token_secret,
  DROP COLUMN agent,
  DROP COLUMN setup,
  DROP COLUMN secret_names,
  DROP COLUMN network,
  DROP COLUMN backend;
