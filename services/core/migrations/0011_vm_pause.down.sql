ALTER TABLE vms DROP COLUMN on_timeout;
-- A paused sandbox cannot be represented without the state: it counts as lost.
UPDATE vms SET status = 'lost', error = 'paused when the pause state was removed'
  WHERE status = 'paused';
ALTER TABLE vms DROP CONSTRAINT vms_status_check;
ALTER TABLE vms ADD CONSTRAINT vms_status_check
  CHECK (status IN ('pending', 'creating', 'running', 'stopping', 'stopped',
                    'deleting', 'deleted', 'failed', 'lost'));
