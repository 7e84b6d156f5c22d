-- A sandbox can be paused: frozen in place, memory and processes kept, resumed as it was.
ALTER TABLE vms DROP CONSTRAINT vms_status_check;
ALTER TABLE vms ADD CONSTRAINT vms_status_check
  CHECK (status IN ('pending', 'creating', 'running', 'paused', 'stopping', 'stopped',
                    'deleting', 'deleted', 'failed', 'lost'));
-- What its timeout does: delete it (as always), or pause it.
ALTER TABLE vms ADD COLUMN on_timeout text NOT NULL DEFAULT 'delete'
  CHECK (on_timeout IN ('delete', 'pause'));
