import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The Prometheus metrics one worker exposes on `/metrics`; one registry per daemon. */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly jobs = new Counter({
    name: "aetherium_worker_jobs_total",
    help: "Jobs finished by this worker, by job name and outcome",
    labelNames: ["job", "outcome"] as const,
    registers: [this.registry],
  });
  readonly jobSeconds = new Histogram({
    name: "aetherium_worker_job_duration_seconds",
    help: "Time from a job attempt's start to its end",
    labelNames: ["job"] as const,
    buckets: [0.005, 0.02, 0.1, 0.5, 2, 10, 60, 300],
    registers: [this.registry],
  });
  readonly capacity = new Gauge({
    name: "aetherium_worker_capacity",
    help: "Total capacity of this worker",
    labelNames: ["resource"] as const,
    registers: [this.registry],
  });
  readonly used = new Gauge({
    name: "aetherium_worker_used",
    help: "Capacity reserved by this worker's sandboxes",
    labelNames: ["resource"] as const,
    registers: [this.registry],
  });
  readonly up = new Gauge({
    name: "aetherium_worker_heartbeat_ok",
    help: "1 when the last heartbeat reached the database",
    registers: [this.registry],
  });
}
