ALTER TABLE vms DROP COLUMN pending_reason;
