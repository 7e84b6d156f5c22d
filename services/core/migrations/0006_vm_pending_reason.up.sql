-- Why a sandbox still waits to be placed ("waiting for capacity: all 2 workers full (4/4 vCPUs)"),
-- shown on the sandbox itself; null once a worker has claimed it.
ALTER TABLE vms ADD COLUMN pending_reason text;
