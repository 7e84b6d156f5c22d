-- Core sandbox tables: workers, vms, tasks, executions, worker metrics and IP allocations.
--
-- Every timestamp is timestamptz(3): JavaScript Dates carry milliseconds, so storing exactly that
-- precision lets a Date read from a row be fed back into a keyset cursor without losing the
-- microseconds PostgreSQL would otherwise keep (which would skip or repeat rows between pages).

CREATE FUNCTION aetherium_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

CREATE TABLE workers (
  id                 text PRIMARY KEY,
  hostname           text NOT NULL,
  -- Internal address the gateway dials for the data plane (exec streams, files).
  address            text NOT NULL,
  status             text NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'draining', 'offline')),
  backends           jsonb NOT NULL DEFAULT '[]',
  zone               text,
  labels             jsonb NOT NULL DEFAULT '{}',
  capacity_vcpus     integer NOT NULL DEFAULT 0 CHECK (capacity_vcpus >= 0),
  capacity_memory_mb integer NOT NULL DEFAULT 0 CHECK (capacity_memory_mb >= 0),
  max_vms            integer NOT NULL DEFAULT 0 CHECK (max_vms >= 0),
  used_vcpus         integer NOT NULL DEFAULT 0 CHECK (used_vcpus >= 0),
  used_memory_mb     integer NOT NULL DEFAULT 0 CHECK (used_memory_mb >= 0),
  used_vms           integer NOT NULL DEFAULT 0 CHECK (used_vms >= 0),
  version            text,
  started_at         timestamptz(3) NOT NULL DEFAULT now(),
  last_seen_at       timestamptz(3) NOT NULL DEFAULT now(),
  created_at         timestamptz(3) NOT NULL DEFAULT now(),
  updated_at         timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX workers_status_idx ON workers (status);
CREATE INDEX workers_zone_idx ON workers (zone);
-- The reaper scans for workers whose heartbeat stopped.
CREATE INDEX workers_last_seen_at_idx ON workers (last_seen_at);
CREATE TRIGGER workers_set_updated_at BEFORE UPDATE ON workers
  FOR EACH ROW EXECUTE FUNCTION aetherium_set_updated_at();

CREATE TABLE vms (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant      text NOT NULL DEFAULT 'default',
  name        text NOT NULL,
  -- NULL until the scheduler has picked a backend for an "auto" request.
  backend     text,
  status      text NOT NULL DEFAULT 'pending'
              CHECK (status IN ('pending', 'creating', 'running', 'stopping', 'stopped',
                                'deleting', 'deleted', 'failed', 'lost')),
  image       text,
  vcpus       integer NOT NULL DEFAULT 1 CHECK (vcpus > 0),
  memory_mb   integer NOT NULL DEFAULT 512 CHECK (memory_mb > 0),
  disk_mb     integer CHECK (disk_mb IS NULL OR disk_mb > 0),
  -- SET NULL: a worker row going away must not erase the record of the sandboxes it ran.
  worker_id   text REFERENCES workers (id) ON DELETE SET NULL,
  labels      jsonb NOT NULL DEFAULT '{}',
  -- Plain values for now; a later migration moves them to encrypted storage.
  env         jsonb NOT NULL DEFAULT '{}',
  network     jsonb NOT NULL DEFAULT '{}',
  tools       jsonb NOT NULL DEFAULT '[]',
  error       text,
  timeout_sec integer CHECK (timeout_sec IS NULL OR timeout_sec > 0),
  created_at  timestamptz(3) NOT NULL DEFAULT now(),
  updated_at  timestamptz(3) NOT NULL DEFAULT now(),
  ready_at    timestamptz(3),
  expires_at  timestamptz(3),
  stopped_at  timestamptz(3),
  deleted_at  timestamptz(3),
  metadata    jsonb NOT NULL DEFAULT '{}'
);
-- Names are unique per tenant among sandboxes that still exist: a deleted sandbox keeps its row
-- (history, executions) but frees its name. A partial index, because a table constraint cannot
-- have a WHERE clause.
CREATE UNIQUE INDEX vms_tenant_name_live_key ON vms (tenant, name) WHERE deleted_at IS NULL;
CREATE INDEX vms_status_idx ON vms (status);
CREATE INDEX vms_worker_id_idx ON vms (worker_id);
CREATE INDEX vms_created_at_idx ON vms (created_at DESC, id DESC);
CREATE INDEX vms_labels_idx ON vms USING gin (labels jsonb_path_ops);
-- The expiry sweeper only looks at live sandboxes with a deadline.
CREATE INDEX vms_expires_at_idx ON vms (expires_at)
  WHERE expires_at IS NOT NULL AND deleted_at IS NULL;
CREATE TRIGGER vms_set_updated_at BEFORE UPDATE ON vms
  FOR EACH ROW EXECUTE FUNCTION aetherium_set_updated_at();

CREATE TABLE tasks (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant              text NOT NULL DEFAULT 'default',
  type                text NOT NULL,
  status              text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'queued', 'running', 'succeeded', 'failed',
                                        'cancelled')),
  queue               text NOT NULL DEFAULT 'default',
  priority            integer NOT NULL DEFAULT 0,
  payload             jsonb NOT NULL DEFAULT '{}',
  result              jsonb,
  error               text,
  vm_id               uuid REFERENCES vms (id) ON DELETE SET NULL,
  worker_id           text REFERENCES workers (id) ON DELETE SET NULL,
  attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  -- One attempt unless the task type is idempotent and opts in to retries.
  max_attempts        integer NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
  idempotency_key     text,
  cancel_requested_at timestamptz(3),
  created_at          timestamptz(3) NOT NULL DEFAULT now(),
  updated_at          timestamptz(3) NOT NULL DEFAULT now(),
  scheduled_at        timestamptz(3) NOT NULL DEFAULT now(),
  started_at          timestamptz(3),
  completed_at        timestamptz(3)
);
CREATE UNIQUE INDEX tasks_tenant_idempotency_key ON tasks (tenant, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_status_idx ON tasks (status);
CREATE INDEX tasks_type_idx ON tasks (type);
CREATE INDEX tasks_vm_id_idx ON tasks (vm_id);
CREATE INDEX tasks_worker_id_idx ON tasks (worker_id);
CREATE INDEX tasks_created_at_idx ON tasks (created_at DESC, id DESC);
-- Dispatch order over the tasks still waiting to run.
CREATE INDEX tasks_dispatch_idx ON tasks (priority DESC, scheduled_at ASC)
  WHERE status IN ('pending', 'queued');
CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON tasks
  FOR EACH ROW EXECUTE FUNCTION aetherium_set_updated_at();

CREATE TABLE executions (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- SET NULL rather than CASCADE: the exec history outlives the sandbox row.
  vm_id            uuid REFERENCES vms (id) ON DELETE SET NULL,
  task_id          uuid REFERENCES tasks (id) ON DELETE SET NULL,
  command          text NOT NULL,
  args             jsonb NOT NULL DEFAULT '[]',
  -- Names of the variables passed, never their values (they may be secrets).
  env_keys         jsonb NOT NULL DEFAULT '[]',
  cwd              text,
  "user"           text,
  exit_code        integer,
  stdout           text NOT NULL DEFAULT '',
  stderr           text NOT NULL DEFAULT '',
  stdout_truncated boolean NOT NULL DEFAULT false,
  stderr_truncated boolean NOT NULL DEFAULT false,
  error            text,
  created_at       timestamptz(3) NOT NULL DEFAULT now(),
  started_at       timestamptz(3) NOT NULL DEFAULT now(),
  completed_at     timestamptz(3),
  duration_ms      integer CHECK (duration_ms IS NULL OR duration_ms >= 0)
);
CREATE INDEX executions_vm_id_created_at_idx ON executions (vm_id, created_at DESC, id DESC);
CREATE INDEX executions_task_id_idx ON executions (task_id);

CREATE TABLE worker_metrics (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Samples mean nothing without their worker.
  worker_id         text NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
  at                timestamptz(3) NOT NULL DEFAULT now(),
  cpu_percent       double precision,
  memory_percent    double precision,
  disk_percent      double precision,
  vm_count          integer,
  tasks_processed   integer,
  network_in_bytes  bigint,
  network_out_bytes bigint,
  metadata          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX worker_metrics_worker_id_at_idx ON worker_metrics (worker_id, at DESC);
CREATE INDEX worker_metrics_at_idx ON worker_metrics (at);

-- Persistent IP allocator for microVM networks (the original kept it in one process's memory).
CREATE TABLE ip_allocations (
  network      text NOT NULL,
  ip           inet NOT NULL,
  -- CASCADE: when the sandbox row goes, its address is free again.
  vm_id        uuid REFERENCES vms (id) ON DELETE CASCADE,
  allocated_at timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (network, ip)
);
CREATE UNIQUE INDEX ip_allocations_network_vm_id_key ON ip_allocations (network, vm_id)
  WHERE vm_id IS NOT NULL;
