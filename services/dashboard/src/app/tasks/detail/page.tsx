"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { useTitle } from "../../../components/hooks.js";
import { useApi, useLive, useToast } from "../../../components/providers.js";
import {
  Card,
  EmptyState,
  ErrorState,
  Json,
  KeyValues,
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
        <Card title="Task">
          <KeyValues
            rows={[
              ["ID", t.id, "mono"],
              [
                "Sandbox",
                t.vmId ? (
                  <Link href={`/sandboxes/detail/?id=${encodeURIComponent(t.vmId)}`}>{t.vmId}</Link>
                ) : (
                  "—"
                ),
                "mono",
              ],
              ["Worker", t.workerId ?? "—", "mono"],
              ["Attempts", `${t.attempts} of at most ${t.maxAttempts}`],
            ]}
          />
        </Card>
        <Card title="Timing">
          <KeyValues
            rows={[
              ["Created", <RelTime key="c" iso={t.createdAt} />],
              ["Started", <RelTime key="s" iso={t.startedAt} />],
              ["Completed", <RelTime key="d" iso={t.completedAt} />],
              [
                "Took",
                t.startedAt && t.completedAt
                  ? formatDuration(Date.parse(t.completedAt) - Date.parse(t.startedAt))
                  : "—",
              ],
            ]}
          />
        </Card>
      </div>
      {t.error && (
        <div className="banner bad" role="alert">
          <strong>Error:</strong> {t.error}
        </div>
      )}
      <div className="grid cols-2">
        <Card title="Payload">
          <Json value={t.payload} />
        </Card>
        <Card title="Result">
          {t.result === null || t.result === undefined ? (
            <span className="muted">{done ? "No result." : "Not finished yet."}</span>
          ) : (
            <Json value={t.result} />
          )}
        </Card>
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
