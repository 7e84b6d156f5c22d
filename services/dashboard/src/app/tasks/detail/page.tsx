"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { useTitle } from "../../../components/hooks.js";
import { useApi, useLive, useToast } from "../../../components/providers.js";
import {
  EmptyState,
  ErrorState,
  Json,
  Loading,
  PageHead,
  RelTime,
  StatusBadge,
} from "../../../components/ui.js";
import { errorMessage } from "../../../lib/api/api.js";
import { formatDuration } from "../../../format/format.js";

function TaskDetail() {
  useTitle("Task");
  const id = useSearchParams().get("id") ?? "";
  const api = useApi();
  const toast = useToast();
  const qc = useQueryClient();
  const { fallbackInterval } = useLive();
  const q = useQuery({
    queryKey: ["task", id],
    queryFn: () => api.getTask(id),
    enabled: id !== "",
    refetchInterval: fallbackInterval,
  });
  const cancel = useMutation({
    mutationFn: () => api.cancelTask(id),
    onSuccess: (task) => {
      qc.setQueryData(["task", id], task);
      toast("Task cancelled", "ok");
    },
    onError: (err) => toast(`Could not cancel: ${errorMessage(err)}`, "bad"),
  });
  if (!id) return <EmptyState title="No task chosen">Open one from the task list.</EmptyState>;
  if (q.isPending) return <Loading rows={6} />;
  if (q.isError)
    return (
      <div className="card">
        <ErrorState error={q.error} retry={() => void q.refetch()} />
      </div>
    );
  const t = q.data;
  const done = ["succeeded", "failed", "cancelled"].includes(t.status);
  return (
    <>
      <PageHead
        title={
          <span className="row" style={{ gap: 10 }}>
            <span className="mono">{t.type}</span> <StatusBadge status={t.status} />
          </span>
        }
        subtitle={<Link href="/tasks/">← All tasks</Link>}
        actions={
          !done && (
            <button
              type="button"
              className="btn danger"
              disabled={cancel.isPending}
              onClick={() => cancel.mutate()}
            >
              Cancel task
            </button>
          )
        }
      />
      <div className="grid cols-2" style={{ marginBottom: 14 }}>
        <div className="card">
          <div className="card-head">
            <h2>Task</h2>
          </div>
          <div className="card-body">
            <dl className="kv">
              <dt>ID</dt>
              <dd className="mono">{t.id}</dd>
              <dt>Sandbox</dt>
              <dd className="mono">
                {t.vmId ? (
                  <Link href={`/sandboxes/detail/?id=${encodeURIComponent(t.vmId)}`}>{t.vmId}</Link>
                ) : (
                  "—"
                )}
              </dd>
              <dt>Worker</dt>
              <dd className="mono">{t.workerId ?? "—"}</dd>
              <dt>Attempts</dt>
              <dd>
                {t.attempts} of at most {t.maxAttempts}
              </dd>
            </dl>
          </div>
        </div>
        <div className="card">
          <div className="card-head">
            <h2>Timing</h2>
          </div>
          <div className="card-body">
            <dl className="kv">
              <dt>Created</dt>
              <dd>
                <RelTime iso={t.createdAt} />
              </dd>
              <dt>Started</dt>
              <dd>
                <RelTime iso={t.startedAt} />
              </dd>
              <dt>Completed</dt>
              <dd>
                <RelTime iso={t.completedAt} />
              </dd>
              <dt>Took</dt>
              <dd>
                {t.startedAt && t.completedAt
                  ? formatDuration(Date.parse(t.completedAt) - Date.parse(t.startedAt))
                  : "—"}
              </dd>
            </dl>
          </div>
        </div>
      </div>
      {t.error && (
        <div className="banner bad" role="alert">
          <strong>Error:</strong> {t.error}
        </div>
      )}
      <div className="grid cols-2">
        <div className="card">
          <div className="card-head">
            <h2>Payload</h2>
          </div>
          <div className="card-body">
            <Json value={t.payload} />
          </div>
        </div>
        <div className="card">
          <div className="card-head">
            <h2>Result</h2>
          </div>
          <div className="card-body">
            {t.result === null || t.result === undefined ? (
              <span className="muted">{done ? "No result." : "Not finished yet."}</span>
            ) : (
              <Json value={t.result} />
            )}
          </div>
        </div>
      </div>
    </>
  );
}

export default function TaskDetailPage() {
  return (
    <Suspense fallback={<Loading rows={6} />}>
      <TaskDetail />
    </Suspense>
  );
}
