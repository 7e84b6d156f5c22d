"use client";
import Link from "next/link";
import { useMemo } from "react";
import { Meter, StatusBars, TasksPerMinuteChart } from "../components/charts.js";
import { useClusterStats, useHealth, useTasks, useTitle, useWorkers } from "../components/hooks.js";
import {
  EmptyState,
  ErrorState,
  Loading,
  PageHead,
  RelTime,
  StatusBadge,
} from "../components/ui.js";
import { statusCounts, tasksPerMinute } from "../lib/charts/series.js";
import { formatBytes } from "../format/format.js";

function Stat({
  label,
  value,
  sub,
  href,
}: {
  label: string;
  value: string | number;
  sub?: string;
  href: string;
}) {
  return (
    <Link href={href} className="card stat" style={{ color: "inherit", textDecoration: "none" }}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {sub && <div className="stat-sub">{sub}</div>}
    </Link>
  );
}

export default function OverviewPage() {
  useTitle("Overview");
  const stats = useClusterStats();
  const health = useHealth();
  const tasks = useTasks({}, 500);
  const workers = useWorkers();

  const buckets = useMemo(
    () => tasksPerMinute(tasks.data?.items ?? [], Date.now(), 60),
    [tasks.data],
  );
  const s = stats.data;
  const vmTotal = s
    ? Object.entries(s.vms).reduce((n, [k, v]) => (k === "deleted" ? n : n + (v ?? 0)), 0)
    : 0;
  const queued = s ? Object.values(s.queues).reduce((n, q) => n + q.waiting + q.delayed, 0) : 0;
  const activeJobs = s ? Object.values(s.queues).reduce((n, q) => n + q.active, 0) : 0;
  const runningTasks = (tasks.data?.items ?? []).filter(
    (t) => t.status === "running" || t.status === "queued" || t.status === "pending",
  ).length;
  const recent = (tasks.data?.items ?? []).slice(0, 6);

  return (
    <>
      <PageHead title="Overview" subtitle="The whole platform at a glance, updated live." />
      {health.data && health.data.status !== "ok" && (
        <div className="banner warn" role="status">
          <strong>Degraded:</strong>
          {Object.entries(health.data.components)
            .filter(([, c]) => c.status !== "ok")
            .map(([name, c]) => `${name} ${c.status}${c.message ? ` (${c.message})` : ""}`)
            .join(" · ")}
        </div>
      )}
      {stats.isError ? (
        <div className="card" style={{ marginBottom: 14 }}>
          <ErrorState error={stats.error} retry={() => void stats.refetch()} />
        </div>
      ) : (
        <div className="grid cols-4" style={{ marginBottom: 14 }}>
          <Stat
            label="Sandboxes running"
            value={s ? (s.vms.running ?? 0) : "…"}
            sub={s ? `${vmTotal} in total (not counting deleted)` : undefined}
            href="/sandboxes/"
          />
          <Stat
            label="Tasks in progress"
            value={tasks.data ? runningTasks : "…"}
            sub={s ? `${activeJobs} job${activeJobs === 1 ? "" : "s"} on workers now` : undefined}
            href="/tasks/"
          />
          <Stat
            label="Queue depth"
            value={s ? queued : "…"}
            sub={
              s
                ? `${Object.keys(s.queues).length} queue${Object.keys(s.queues).length === 1 ? "" : "s"}`
                : undefined
            }
            href="/tasks/"
          />
          <Stat
            label="Workers healthy"
            value={s ? `${s.workers.healthy}/${s.workers.total}` : "…"}
            sub={
              s
                ? `${s.workers.active} active · ${s.workers.draining} draining · ${s.workers.offline} offline`
                : undefined
            }
            href="/workers/"
          />
        </div>
      )}
      <div className="grid cols-2" style={{ marginBottom: 14 }}>
        <div className="card">
          <div className="card-head">
            <h2>Sandboxes by status</h2>
            <Link href="/sandboxes/" className="small">
              All sandboxes →
            </Link>
          </div>
          <div className="card-body">
            {stats.isPending ? (
              <Loading rows={3} />
            ) : s && statusCounts(s.vms).length > 0 ? (
              <StatusBars data={statusCounts(s.vms)} />
            ) : (
              <EmptyState title="No sandboxes yet">Create one from the Sandboxes page.</EmptyState>
            )}
          </div>
        </div>
        <div className="card">
          <div className="card-head">
            <h2>Capacity</h2>
            <span className="muted small">reserved / total over active workers</span>
          </div>
          <div className="card-body stack">
            {s ? (
              <>
                <Meter label="vCPUs" used={s.used.vcpus} total={s.capacity.vcpus} />
                <Meter
                  label="Memory"
                  used={s.used.memoryMb}
                  total={s.capacity.memoryMb}
                  format={(v) => formatBytes(v * 1048576)}
                />
                <Meter label="Sandboxes" used={s.used.vms} total={s.capacity.vms} />
              </>
            ) : (
              <Loading rows={3} />
            )}
          </div>
        </div>
      </div>
      <div className="grid cols-2">
        <div className="card">
          <div className="card-head">
            <h2>Tasks per minute</h2>
            <span className="muted small">
              last hour{tasks.data?.nextCursor ? " · from the newest 500 tasks" : ""}
            </span>
          </div>
          <div className="card-body">
            {tasks.isPending ? (
              <Loading rows={3} />
            ) : tasks.isError ? (
              <ErrorState error={tasks.error} />
            ) : (
              <>
                <TasksPerMinuteChart buckets={buckets} />
                {buckets.every((b) => b.created === 0) && (
                  <p className="muted small" style={{ margin: "6px 0 0" }}>
                    No task was created in the last hour.
                  </p>
                )}
              </>
            )}
          </div>
        </div>
        <div className="card">
          <div className="card-head">
            <h2>Platform health</h2>
            {health.data && (
              <span className={`badge ${health.data.status === "ok" ? "ok" : "busy"}`}>
                <span className="dot" />
                {health.data.status === "ok" ? "all systems working" : "degraded"}
              </span>
            )}
          </div>
          <div className="card-body flush">
            {health.isPending ? (
              <Loading rows={3} />
            ) : health.isError ? (
              <ErrorState error={health.error} />
            ) : (
              <table className="table">
                <tbody>
                  {Object.entries(health.data.components).map(([name, c]) => (
                    <tr key={name}>
                      <td>{name}</td>
                      <td>
                        <span
                          className={`badge ${c.status === "ok" ? "ok" : c.status === "down" ? "bad" : "busy"}`}
                        >
                          <span className="dot" />
                          {c.status}
                        </span>
                      </td>
                      <td className="muted small">
                        {(c as { detail?: string }).detail ?? c.message ?? ""}
                        {c.latencyMs !== undefined ? ` · ${Math.round(c.latencyMs)} ms` : ""}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        </div>
      </div>
      <div className="card" style={{ marginTop: 14 }}>
        <div className="card-head">
          <h2>Recent tasks</h2>
          <Link href="/tasks/" className="small">
            All tasks →
          </Link>
        </div>
        {recent.length === 0 ? (
          <EmptyState title="No tasks yet">
            Creating, stopping or deleting a sandbox records a task.
          </EmptyState>
        ) : (
          <table className="table">
            <tbody>
              {recent.map((t) => (
                <tr key={t.id}>
                  <td>
                    <Link
                      href={`/tasks/detail/?id=${encodeURIComponent(t.id)}`}
                      className="mono small"
                    >
                      {t.type}
                    </Link>
                  </td>
                  <td>
                    <StatusBadge status={t.status} />
                  </td>
                  <td className="mono small hide-narrow">{t.vmId ?? ""}</td>
                  <td>
                    <RelTime iso={t.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      {workers.data && workers.data.items.length === 0 && (
        <div className="banner warn" style={{ marginTop: 14 }}>
          No worker has registered: sandboxes cannot be created until one joins.
        </div>
      )}
    </>
  );
}
