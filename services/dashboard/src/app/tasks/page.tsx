"use client";
import Link from "next/link";
import { useMemo, useState } from "react";
import { useTasks, useTitle, usePages } from "../../components/hooks.js";
import {
  EmptyState,
  ErrorState,
  Loading,
  PageHead,
  RelTime,
  ShowMore,
  StatusBadge,
} from "../../components/ui.js";
import type { TaskFilter } from "../../lib/live/reducers.js";
import { formatDuration } from "../../format/format.js";

const STATUSES = ["pending", "queued", "running", "succeeded", "failed", "cancelled"];
const TYPES = [
  "vm:create",
  "vm:start",
  "vm:stop",
  "vm:delete",
  "vm:execute",
  "workspace:create",
  "workspace:delete",
  "prompt:execute",
];

export default function TasksPage() {
  useTitle("Tasks");
  const [status, setStatus] = useState("");
  const [type, setType] = useState("");
  const [vmId, setVmId] = useState("");
  const filter = useMemo<TaskFilter>(
    () => ({
      ...(status ? { status: [status] } : {}),
      ...(type ? { type: [type] } : {}),
      ...(vmId.trim() ? { vmId: vmId.trim() } : {}),
    }),
    [status, type, vmId],
  );
  const [pages, showMore] = usePages(filter);
  const tasks = useTasks(filter, 200, pages);
  const items = tasks.data?.items ?? [];
  const filtered = Object.keys(filter).length > 0;
  return (
    <>
      <PageHead
        title="Tasks"
        subtitle="Every durable operation: creates, stops, deletes and queued commands."
      />
      <div className="card">
        <div className="filters" role="search">
          <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">All statuses</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
          <select aria-label="Type" value={type} onChange={(e) => setType(e.target.value)}>
            <option value="">All types</option>
            {TYPES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
          <input
            aria-label="Sandbox id"
            placeholder="sandbox id"
            value={vmId}
            onChange={(e) => setVmId(e.target.value)}
          />
          <span className="spacer" />
          {tasks.data && <span className="muted small">{items.length} shown</span>}
        </div>
        {tasks.isPending ? (
          <Loading rows={6} />
        ) : tasks.isError ? (
          <ErrorState error={tasks.error} retry={() => void tasks.refetch()} />
        ) : items.length === 0 ? (
          <EmptyState title={filtered ? "No task matches these filters" : "No tasks yet"}>
            {filtered
              ? "Clear a filter to see more."
              : "Creating, stopping or deleting a sandbox records a task here."}
          </EmptyState>
        ) : (
          <div className="table-wrap">
            <table className="table" aria-label="Tasks">
              <thead>
                <tr>
                  <th>Type</th>
                  <th>Status</th>
                  <th className="hide-narrow">Sandbox</th>
                  <th className="hide-narrow num">Attempts</th>
                  <th className="num">Took</th>
                  <th>Created</th>
                </tr>
              </thead>
              <tbody>
                {items.map((t) => (
                  <tr key={t.id}>
                    <td>
                      <Link
                        className="row-link mono"
                        href={`/tasks/detail/?id=${encodeURIComponent(t.id)}`}
                      >
                        {t.type}
                      </Link>
                      <div className="faint mono small">{t.id}</div>
                    </td>
                    <td>
                      <StatusBadge status={t.status} />
                      {t.error && <div className="field-error small">{t.error.slice(0, 80)}</div>}
                    </td>
                    <td className="hide-narrow mono small">
                      {t.vmId ? (
                        <Link href={`/sandboxes/detail/?id=${encodeURIComponent(t.vmId)}`}>
                          {t.vmId}
                        </Link>
                      ) : (
                        "—"
                      )}
                    </td>
                    <td className="hide-narrow num">
                      {t.attempts}/{t.maxAttempts}
                    </td>
                    <td className="num muted">
                      {t.startedAt && t.completedAt
                        ? formatDuration(Date.parse(t.completedAt) - Date.parse(t.startedAt))
                        : "—"}
                    </td>
                    <td>
                      <RelTime iso={t.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <ShowMore
          more={Boolean(tasks.data?.nextCursor)}
          loading={tasks.isFetching}
          shown={items.length}
          noun="tasks"
          onMore={showMore}
        />
      </div>
    </>
  );
}
