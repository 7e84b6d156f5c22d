"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Fragment, Suspense, useState } from "react";
import type { Vm } from "@aetherium/types";
import { LatencyChart } from "../../../components/charts.js";
import { FileBrowser } from "../../../components/file-browser.js";
import { useInsertVm, useTitle, useVm, useVmAction } from "../../../components/hooks.js";
import { useApi, useLive, useToast } from "../../../components/providers.js";
import { Terminal } from "../../../components/terminal.js";
import {
  Card,
  ConfirmDialog,
  Dialog,
  EmptyState,
  ErrorState,
  Labels,
  Loading,
  PageHead,
  RelTime,
  StatusBadge,
  Tabs,
} from "../../../components/ui.js";
import { errorMessage } from "../../../lib/api/api.js";
import { execLatencies, latencySummary } from "../../../lib/charts/series.js";
import { formatBytes, formatDuration } from "../../../format/format.js";

/** The `error` of a command ended by its client closing the socket: a deliberate end, not a failure. */
const CLOSED_BY_CLIENT = "closed by client";

const TABS = [
  { id: "overview", label: "Overview" },
  { id: "terminal", label: "Terminal" },
  { id: "files", label: "Files" },
  { id: "executions", label: "Executions" },
];

function ExtendDialog({ vm, onClose }: { vm: Vm; onClose: () => void }) {
  const api = useApi();
  const toast = useToast();
  const insert = useInsertVm();
  const [minutes, setMinutes] = useState("60");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    const n = Number(minutes);
    if (!Number.isInteger(n) || n < 1 || n > 43_200) {
      setError("Between 1 minute and 30 days (43200 minutes).");
      return;
    }
    setBusy(true);
    try {
      // No event says so: the answer's snapshot updates the page and the lists.
      insert((await api.setVmTimeout(vm.id, n * 60)).vm);
      toast(`${vm.name} is now deleted automatically in ${formatDuration(n * 60_000)}`, "ok");
      onClose();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog
      title="Set the timeout"
      description={`Time from now until ${vm.name} is deleted automatically.`}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose} data-close>
            Cancel
          </button>
          <button
            type="button"
            className="btn primary"
            disabled={busy}
            onClick={() => void submit()}
          >
            Set timeout
          </button>
        </>
      }
    >
      <label className="field">
        Minutes from now
        <input
          inputMode="numeric"
          value={minutes}
          onChange={(e) => setMinutes(e.target.value)}
          onKeyDown={(e) => e.key === "Enter" && void submit()}
        />
        {error && <span className="field-error">{error}</span>}
      </label>
    </Dialog>
  );
}

function ConfirmDelete({ vm, onClose }: { vm: Vm; onClose: () => void }) {
  const del = useVmAction("delete");
  const router = useRouter();
  return (
    <ConfirmDialog
      title={`Delete ${vm.name}?`}
      description="The sandbox and its disk are removed. Its executions stay in the history."
      confirmLabel="Delete sandbox"
      pending={del.isPending}
      onConfirm={() =>
        del.mutate(vm, {
          onSuccess: () => {
            onClose();
            router.push("/sandboxes/");
          },
        })
      }
      onClose={onClose}
    >
      <p className="muted" style={{ margin: 0 }}>
        <span className="mono">{vm.id}</span>
      </p>
    </ConfirmDialog>
  );
}

function Executions({ vmId }: { vmId: string }) {
  const api = useApi();
  const { fallbackInterval } = useLive();
  const [open, setOpen] = useState<string | null>(null);
  const q = useQuery({
    queryKey: ["executions", vmId],
    queryFn: () => api.listExecutions(vmId),
    // Executions have no event: fresh on opening the tab, after console runs, and on focus.
    refetchOnMount: "always",
    refetchInterval: fallbackInterval,
  });
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorState error={q.error} retry={() => void q.refetch()} />;
  const items = q.data.items;
  if (items.length === 0)
    return (
      <div className="card">
        <EmptyState title="No commands have run here yet">
          Commands from the terminal, the console, the API and the SDK all appear here.
        </EmptyState>
      </div>
    );
  const durations = execLatencies(items);
  const s = latencySummary(durations);
  return (
    <div className="stack">
      <div className="card">
        <div className="card-head">
          <h2>Exec latency</h2>
          <span
            className="muted small"
            title="Commands that ran to their end; terminal sessions and closed or killed commands are left out"
          >
            last {s.count} · p50 {s.p50 === null ? "—" : formatDuration(s.p50)} · p95{" "}
            {s.p95 === null ? "—" : formatDuration(s.p95)}
          </span>
        </div>
        <div className="card-body">
          <LatencyChart durations={durations} p50={s.p50} p95={s.p95} />
        </div>
      </div>
      <div className="card">
        <div className="table-wrap">
          <table className="table" aria-label="Executions">
            <thead>
              <tr>
                <th>Command</th>
                <th className="num">Exit</th>
                <th className="num">Duration</th>
                <th>Started</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <Fragment key={e.id}>
                  <tr>
                    <td>
                      <button
                        type="button"
                        className="btn ghost small mono cmd-btn"
                        aria-expanded={open === e.id}
                        onClick={() => setOpen(open === e.id ? null : e.id)}
                        title={[e.command, ...e.args].join(" ")}
                      >
                        {[e.command, ...e.args].join(" ")}
                      </button>
                      {e.pty && <span className="chip">terminal</span>}
                    </td>
                    <td className="num">
                      {e.error === CLOSED_BY_CLIENT ? (
                        <span className="faint" title="Its client closed it (a terminal closed)">
                          closed
                        </span>
                      ) : e.exitCode === null ? (
                        <span className="faint">{e.error ? "error" : "running"}</span>
                      ) : (
                        <span className={e.exitCode === 0 ? "" : "field-error"}>{e.exitCode}</span>
                      )}
                    </td>
                    <td className="num muted">
                      {e.durationMs === null ? "—" : formatDuration(e.durationMs)}
                    </td>
                    <td>
                      <RelTime iso={e.startedAt} />
                    </td>
                  </tr>
                  {open === e.id && (
                    <tr>
                      <td colSpan={4}>
                        {e.error && e.error !== CLOSED_BY_CLIENT && (
                          <div className="banner bad">{e.error}</div>
                        )}
                        <h3 style={{ margin: "4px 0" }}>stdout</h3>
                        <pre className="code">{e.stdout || "(empty)"}</pre>
                        {e.stderr && (
                          <>
                            <h3 style={{ margin: "8px 0 4px" }}>stderr</h3>
                            <pre className="code">{e.stderr}</pre>
                          </>
                        )}
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </div>
  );
}

function Overview({ vm }: { vm: Vm }) {
  return (
    <div className="grid cols-2">
      <Card title="Details">
        <dl className="kv">
          <dt>ID</dt>
          <dd className="mono">{vm.id}</dd>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={vm.status} />
          </dd>
          <dt>Backend</dt>
          <dd>{vm.backend}</dd>
          <dt>Image</dt>
          <dd className="mono">{vm.image}</dd>
          <dt>Resources</dt>
          <dd>
            {vm.vcpus} vCPU · {formatBytes(vm.memoryMb * 1048576)} memory ·{" "}
            {formatBytes(vm.diskMb * 1048576)} disk
          </dd>
          <dt>Worker</dt>
          <dd className="mono">
            {vm.workerId ? <Link href="/workers/">{vm.workerId}</Link> : "—"}
          </dd>
          <dt>Network</dt>
          <dd>
            {typeof vm.network.egress === "string"
              ? vm.network.egress
              : `allow ${vm.network.egress.allow.join(", ")}`}
          </dd>
          <dt>Labels</dt>
          <dd>
            <Labels labels={vm.labels} />
          </dd>
          <dt>Environment</dt>
          <dd>
            {Object.keys(vm.env).length ? (
              Object.keys(vm.env).map((k) => (
                <span key={k} className="chip">
                  {k}
                </span>
              ))
            ) : (
              <span className="faint">—</span>
            )}
          </dd>
        </dl>
      </Card>
      <Card title="Lifecycle">
        <dl className="kv">
          <dt>Created</dt>
          <dd>
            <RelTime iso={vm.createdAt} />
          </dd>
          <dt>Ready</dt>
          <dd>
            <RelTime iso={vm.readyAt} />
            {vm.readyAt && (
              <span className="muted small">
                {" "}
                (booted in {formatDuration(Date.parse(vm.readyAt) - Date.parse(vm.createdAt))})
              </span>
            )}
          </dd>
          <dt>Expires</dt>
          <dd>{vm.expiresAt ? <RelTime iso={vm.expiresAt} /> : "never"}</dd>
          <dt>Stopped</dt>
          <dd>
            <RelTime iso={vm.stoppedAt} />
          </dd>
          {vm.status === "pending" && vm.pendingReason && (
            <>
              <dt>Waiting</dt>
              <dd className="faint" data-testid="pending-reason">
                {vm.pendingReason}
              </dd>
            </>
          )}
          {vm.error && (
            <>
              <dt>Error</dt>
              <dd className="field-error">{vm.error}</dd>
            </>
          )}
        </dl>
      </Card>
    </div>
  );
}

function Detail() {
  const params = useSearchParams();
  const id = params.get("id") ?? "";
  const tabParam = params.get("tab") ?? "overview";
  const [tab, setTab] = useState(TABS.some((t) => t.id === tabParam) ? tabParam : "overview");
  const q = useVm(id);
  const stop = useVmAction("stop");
  const start = useVmAction("start");
  const [dialog, setDialog] = useState<"extend" | "delete" | null>(null);
  useTitle(q.data?.name ?? "Sandbox");

  if (!id)
    return <EmptyState title="No sandbox chosen">Open one from the sandbox list.</EmptyState>;
  if (q.isPending) return <Loading rows={6} />;
  if (q.isError)
    return (
      <>
        <PageHead title="Sandbox" subtitle={<Link href="/sandboxes/">← All sandboxes</Link>} />
        <div className="card">
          <ErrorState error={q.error} retry={() => void q.refetch()} />
        </div>
      </>
    );
  const vm = q.data;
  const live = !["deleted", "deleting"].includes(vm.status);
  return (
    <>
      <PageHead
        title={
          <span className="row" style={{ gap: 10 }}>
            {vm.name} <StatusBadge status={vm.status} />
          </span>
        }
        subtitle={<Link href="/sandboxes/">← All sandboxes</Link>}
        actions={
          live && (
            <>
              {vm.status === "stopped" ? (
                <button
                  type="button"
                  className="btn"
                  disabled={start.isPending}
                  onClick={() => start.mutate(vm)}
                >
                  Start
                </button>
              ) : (
                <button
                  type="button"
                  className="btn"
                  disabled={vm.status !== "running" || stop.isPending}
                  onClick={() => stop.mutate(vm)}
                >
                  Stop
                </button>
              )}
              {vm.status === "running" && (
                <Link className="btn" href={`/console/?vm=${encodeURIComponent(vm.id)}`}>
                  Open in console
                </Link>
              )}
              <button type="button" className="btn" onClick={() => setDialog("extend")}>
                Extend timeout
              </button>
              <button type="button" className="btn danger" onClick={() => setDialog("delete")}>
                Delete
              </button>
            </>
          )
        }
      />
      <Tabs tabs={TABS} value={tab} onChange={setTab} />
      <div role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {tab === "overview" && <Overview vm={vm} />}
        {tab === "terminal" &&
          (vm.status === "running" ? (
            <Terminal vmId={vm.id} />
          ) : (
            <div className="card">
              <EmptyState title={`The sandbox is ${vm.status}`}>
                The terminal opens once it is running.
              </EmptyState>
            </div>
          ))}
        {tab === "files" &&
          (vm.status === "running" ? (
            <FileBrowser vmId={vm.id} />
          ) : (
            <div className="card">
              <EmptyState title={`The sandbox is ${vm.status}`}>
                Files can be browsed while it is running.
              </EmptyState>
            </div>
          ))}
        {tab === "executions" && <Executions vmId={vm.id} />}
      </div>
      {dialog === "extend" && <ExtendDialog vm={vm} onClose={() => setDialog(null)} />}
      {dialog === "delete" && <ConfirmDelete vm={vm} onClose={() => setDialog(null)} />}
    </>
  );
}

export default function SandboxDetailPage() {
  return (
    <Suspense fallback={<Loading rows={6} />}>
      <Detail />
    </Suspense>
  );
}
