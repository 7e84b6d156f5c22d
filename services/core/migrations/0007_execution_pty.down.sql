ALTER TABLE executions DROP COLUMN pty;
