"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";
import type { PrepStep } from "@aetherium/types";
import { useTitle } from "../../../components/hooks.js";
import { useApi, useToast } from "../../../components/providers.js";
import {
  Card,
  ConfirmDialog,
  EmptyState,
  ErrorState,
  KeyValues,
  Loading,
  PageHead,
  RelTime,
  StatusBadge,
} from "../../../components/ui.js";
import { errorMessage } from "../../../lib/api/api.js";
import { formatDuration } from "../../../format/format.js";

/**
 * Statuses in which preparation still moves. Step events from the live stream patch the page as
 * they happen; a poll each second while preparing is the safety net for a dropped stream.
 */
const PREPARING = new Set(["creating", "preparing"]);

function Step({ step }: { step: PrepStep }) {
  const open = step.status === "failed" || step.status === "running";
  return (
    <li data-step={step.name} data-step-status={step.status}>
      <div className="step-head">
        <StatusBadge status={step.status} />
        <span className="step-name mono">{step.name}</span>
        <span className="muted small">
          {step.durationMs !== null
            ? formatDuration(step.durationMs)
            : step.status === "running"
              ? "running…"
              : ""}
        </span>
      </div>
      {(step.output || step.error) && (
        <details open={open}>
          <summary className="muted small">Output</summary>
          <pre className="code" data-step-output>
            {step.output}
            {step.error ? `\n${step.error}` : ""}
          </pre>
        </details>
      )}
    </li>
  );
}

function DeleteWorkspaceDialog({
  id,
  name,
  onClose,
}: {
  id: string;
  name: string;
  onClose: () => void;
}) {
  const api = useApi();
  const qc = useQueryClient();
  const toast = useToast();
  const router = useRouter();
  const remove = useMutation({
    mutationFn: () => api.deleteWorkspace(id),
    onSuccess: () => {
      toast(`Deleted workspace ${name}`, "ok");
      void qc.invalidateQueries({ queryKey: ["workspaces"] });
      router.push("/workspaces/");
    },
    onError: (err) => toast(`Could not delete: ${errorMessage(err)}`, "bad"),
  });
  return (
    <ConfirmDialog
      title={`Delete ${name}?`}
      description="Its sandbox, files, secrets and prompt history go with it."
      confirmLabel="Delete workspace"
      pending={remove.isPending}
      onConfirm={() => remove.mutate()}
      onClose={onClose}
    >
      <span className="mono small">{id}</span>
    </ConfirmDialog>
  );
}

function WorkspaceDetail() {
  useTitle("Workspace");
  const id = useSearchParams().get("id") ?? "";
  const api = useApi();
  const [deleting, setDeleting] = useState(false);
  const envs = useQuery({ queryKey: ["environments"], queryFn: () => api.listEnvironments() });
  const q = useQuery({
    queryKey: ["workspace", id],
    queryFn: () => api.getWorkspace(id),
    enabled: id !== "",
    refetchInterval: (query) =>
      !query.state.data || PREPARING.has(query.state.data.status) ? 1000 : 10_000,
  });
  if (!id)
    return <EmptyState title="No workspace chosen">Open one from the workspace list.</EmptyState>;
  if (q.isPending) return <Loading rows={6} />;
  if (q.isError)
    return (
      <div className="card">
        <ErrorState error={q.error} retry={() => void q.refetch()} />
      </div>
    );
  const w = q.data;
  const steps = [...w.prepSteps].sort((a, b) => a.order - b.order);
  return (
    <>
      <PageHead
        title={
          <span className="row" style={{ gap: 10 }}>
            {w.name} <StatusBadge status={w.status} />
          </span>
        }
        subtitle={<Link href="/workspaces/">← All workspaces</Link>}
        actions={
          <>
            {(w.status === "ready" || w.status === "idle") && (
              <Link
                className="btn primary"
                href={`/prompts/?workspace=${encodeURIComponent(w.id)}`}
                data-send-prompt
              >
                Send a prompt
              </Link>
            )}
            <button type="button" className="btn danger" onClick={() => setDeleting(true)}>
              Delete workspace
            </button>
          </>
        }
      />
      {w.status === "failed" && (
        <div className="banner bad" role="alert">
          <strong>Failed{w.failedStep ? ` at ${w.failedStep}` : ""}:</strong>{" "}
          {w.error ?? "no reason given"}
        </div>
      )}
      <div className="grid cols-2" style={{ marginBottom: 14 }}>
        <Card title="Workspace">
          <KeyValues
            rows={[
              ["ID", w.id, "mono"],
              [
                "Environment",
                w.environmentId
                  ? (envs.data?.items.find((e) => e.id === w.environmentId)?.name ??
                    w.environmentId)
                  : "—",
              ],
              ["Agent", `${w.agent.type}${w.agent.model ? ` · ${w.agent.model}` : ""}`],
              ["Directory", w.workingDirectory, "mono"],
              [
                "Sandbox",
                w.vmId ? (
                  <Link href={`/sandboxes/detail/?id=${encodeURIComponent(w.vmId)}`}>{w.vmId}</Link>
                ) : (
                  "—"
                ),
                "mono",
              ],
              ["Idle timeout", `${Math.round(w.idleTimeoutSec / 60)} min`],
            ]}
          />
        </Card>
        <Card title="Timing">
          <KeyValues
            rows={[
              ["Created", <RelTime key="c" iso={w.createdAt} />],
              ["Ready", <RelTime key="r" iso={w.readyAt} />],
              ["Last active", <RelTime key="a" iso={w.idleSince} />],
              ["Stopped", <RelTime key="s" iso={w.stoppedAt} />],
            ]}
          />
        </Card>
      </div>
      <Card
        title="Preparation"
        extra={PREPARING.has(w.status) && <span className="muted small">updating live</span>}
      >
        {steps.length === 0 ? (
          <span className="muted">
            {PREPARING.has(w.status) ? "Waiting for the sandbox…" : "No preparation steps."}
          </span>
        ) : (
          <ol className="steps" aria-label="Preparation steps">
            {steps.map((s) => (
              <Step key={s.id} step={s} />
            ))}
          </ol>
        )}
      </Card>
      {deleting && (
        <DeleteWorkspaceDialog id={w.id} name={w.name} onClose={() => setDeleting(false)} />
      )}
    </>
  );
}

export default function WorkspaceDetailPage() {
  return (
    <Suspense fallback={<Loading rows={6} />}>
      <WorkspaceDetail />
    </Suspense>
  );
}
