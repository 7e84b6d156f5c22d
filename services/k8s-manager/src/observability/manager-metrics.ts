type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly type: "gauge" | "counter";
  readonly help: string;
  readonly values: Map<string, { labels: Labels; value: number }>;
}

const escapeLabel = (v: string) =>
  v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

/**
 * The manager's metrics in the Prometheus text exposition format (version 0.0.4): what it
 * decided, what it saw, what it did. Few series, so a map per family is enough.
 */
export class ManagerMetrics {
  readonly #families = new Map<string, Family>();

  constructor() {
    this.#define("aetherium_manager_leader", "gauge", "1 while this replica holds the Lease.");
    this.#define("aetherium_manager_workers_desired", "gauge", "Workers the scaling policy wants.");
    this.#define(
      "aetherium_manager_workers_current",
      "gauge",
      "Workers the cluster runs (replicas or labelled nodes).",
    );
    this.#define(
      "aetherium_manager_workers_draining",
      "gauge",
      "Workers drained and waiting to empty before removal.",
    );
    this.#define(
      "aetherium_manager_queue_depth",
      "gauge",
      "Sandbox creations waiting in Aetherium's queues.",
    );
    this.#define("aetherium_manager_sandboxes_running", "gauge", "Sandboxes the workers hold.");
    this.#define(
      "aetherium_manager_scale_events_total",
      "counter",
      "Scaling actions taken, by direction.",
    );
    this.#define(
      "aetherium_manager_reconcile_errors_total",
      "counter",
      "Reconcile rounds that failed.",
    );
    this.#define("aetherium_manager_kvm_nodes", "gauge", "Nodes labelled as offering /dev/kvm.");
  }

  /** Sets a gauge. */
  set(name: string, value: number, labels: Labels = {}): void {
    this.#family(name).values.set(JSON.stringify(labels), { labels, value });
  }

  /** Adds to a counter. */
  inc(name: string, labels: Labels = {}, by = 1): void {
    const f = this.#family(name);
    const k = JSON.stringify(labels);
    f.values.set(k, { labels, value: (f.values.get(k)?.value ?? 0) + by });
  }

  /** A series' value (0 when never set), for the manager's own reasoning and tests. */
  value(name: string, labels: Labels = {}): number {
    return this.#family(name).values.get(JSON.stringify(labels))?.value ?? 0;
  }

  /** The exposition text served on `/metrics`. */
  render(): string {
    const lines: string[] = [];
    for (const [name, f] of this.#families) {
      lines.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      const series = f.values.size ? [...f.values.values()] : [{ labels: {}, value: 0 }];
      for (const { labels, value } of series) {
        const l = Object.entries(labels)
          .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
          .join(",");
        lines.push(`${name}${l ? `{${l}}` : ""} ${value}`);
      }
    }
    return `${lines.join("\n")}\n`;
  }

  #define(name: string, type: Family["type"], help: string) {
    this.#families.set(name, { type, help, values: new Map() });
  }

  #family(name: string): Family {
    const f = this.#families.get(name);
    if (!f) throw new Error(`unknown metric ${name}`);
    return f;
  }
}
