DROP TABLE session_messages;
DROP TABLE workspace_sessions;
DROP TABLE prompt_tasks;
DROP TABLE workspace_prep_steps;
DROP TABLE workspace_secrets;
DROP TABLE workspaces;
DROP TABLE environments;
