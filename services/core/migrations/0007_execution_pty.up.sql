-- Whether a command ran on a terminal (an interactive shell): its duration is how long someone
-- kept the shell open, not how long a command took, so latency figures leave it out.
ALTER TABLE executions ADD COLUMN pty boolean NOT NULL DEFAULT false;
