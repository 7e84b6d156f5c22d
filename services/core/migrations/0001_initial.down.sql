DROP TABLE ip_allocations;
DROP TABLE worker_metrics;
DROP TABLE executions;
DROP TABLE tasks;
DROP TABLE vms;
DROP TABLE workers;
DROP FUNCTION aetherium_set_updated_at();
