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
  /** Where the data-plane gauges read from (set by the daemon once its data plane exists). */
  dataPlane: (() => { execSessions: number; maxBufferedBytes: number }) | undefined;
  readonly execSessions: Gauge = new Gauge({
    name: "aetherium_worker_exec_sessions",
    help: "Exec WebSockets open on this worker's data plane",
    registers: [this.registry],
    collect: (): void => {
      this.execSessions.set(this.dataPlane?.().execSessions ?? 0);
    },
  });
  readonly execBufferedMax: Gauge = new Gauge({
    name: "aetherium_worker_exec_buffered_bytes_max",
    help: "Highest number of unsent bytes any exec WebSocket held (bounded by backpressure)",
    registers: [this.registry],
    collect: (): void => {
      this.execBufferedMax.set(this.dataPlane?.().maxBufferedBytes ?? 0);
    },
  });
}
