"use client";
import Link from "next/link";
import { useMemo, useState } from "react";
import { CreateSandboxDialog } from "../../components/create-sandbox-dialog.js";
import { useTitle, useVms, useWorkers, usePages } from "../../components/hooks.js";
import {
  EmptyState,
  ErrorState,
  Labels,
  Loading,
  PageHead,
  RelTime,
  ShowMore,
  StatusBadge,
} from "../../components/ui.js";
import { parseKeyValues } from "../../lib/forms/sandbox-form.js";
import type { VmFilter } from "../../lib/live/reducers.js";
import { formatBytes } from "../../format/format.js";

const STATUSES = [
  "running",
  "creating",
  "pending",
  "stopped",
  "failed",
  "lost",
  "deleting",
  "deleted",
];

export default function SandboxesPage() {
  useTitle("Sandboxes");
  const [creating, setCreating] = useState(false);
  const [status, setStatus] = useState("");
  const [labelText, setLabelText] = useState("");
  const [workerId, setWorkerId] = useState("");
  const [search, setSearch] = useState("");

  const labels = useMemo(() => {
    const r = parseKeyValues(labelText, { commaSeparated: true });
    return "values" in r && Object.keys(r.values).length ? r.values : undefined;
  }, [labelText]);
  const filter = useMemo<VmFilter>(
    () => ({
      ...(status ? { status: [status] } : {}),
      ...(labels ? { labels } : {}),
      ...(workerId ? { workerId } : {}),
    }),
    [status, labels, workerId],
  );
  const [pages, showMore] = usePages(filter);
  const vms = useVms(filter, pages);
  const workers = useWorkers();
  const items = (vms.data?.items ?? []).filter(
    (v) => !search || v.name.includes(search) || v.id.includes(search),
  );
  const filtered = status !== "" || labels !== undefined || workerId !== "" || search !== "";

  return (
    <>
      <PageHead
        title="Sandboxes"
        subtitle="Isolated machines for commands, tools and agents."
        actions={
          <button type="button" className="btn primary" onClick={() => setCreating(true)}>
            New sandbox
          </button>
        }
      />
      <div className="card">
        <div className="filters" role="search">
          <input
            aria-label="Search by name or id"
            placeholder="Search name or id"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
          <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">All statuses (but deleted)</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
          <input
            aria-label="Labels"
            placeholder="label: key=value"
            value={labelText}
            onChange={(e) => setLabelText(e.target.value)}
          />
          <select
            aria-label="Worker"
            value={workerId}
            onChange={(e) => setWorkerId(e.target.value)}
          >
            <option value="">All workers</option>
            {(workers.data?.items ?? []).map((w) => (
              <option key={w.id} value={w.id}>
                {w.hostname || w.id}
              </option>
            ))}
          </select>
          <span className="spacer" />
          {vms.data && (
            <span className="muted small">
              {items.length} sandbox{items.length === 1 ? "" : "es"}
            </span>
          )}
        </div>
        {vms.isPending ? (
          <Loading rows={5} />
        ) : vms.isError ? (
          <ErrorState error={vms.error} retry={() => void vms.refetch()} />
        ) : items.length === 0 ? (
          filtered ? (
            <EmptyState title="No sandbox matches these filters">
              Clear a filter to see more.
            </EmptyState>
          ) : (
            <EmptyState
              title="No sandboxes yet"
              action={
                <button type="button" className="btn primary" onClick={() => setCreating(true)}>
                  Create your first sandbox
                </button>
              }
            >
              A sandbox boots in about a second and runs any command you give it.
            </EmptyState>
          )
        ) : (
          <div className="table-wrap">
            <table className="table" aria-label="Sandboxes">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Status</th>
                  <th className="hide-narrow">Backend</th>
                  <th className="hide-narrow">Resources</th>
                  <th className="hide-narrow">Worker</th>
                  <th>Age</th>
                  <th className="hide-narrow">Labels</th>
                </tr>
              </thead>
              <tbody>
                {items.map((vm) => (
                  <tr key={vm.id} data-vm-id={vm.id} data-vm-name={vm.name}>
                    <td>
                      <Link
                        className="row-link"
                        href={`/sandboxes/detail/?id=${encodeURIComponent(vm.id)}`}
                      >
                        {vm.name}
                      </Link>
                      <div className="faint mono small">{vm.id}</div>
                    </td>
                    <td>
                      <StatusBadge status={vm.status} />
                      {vm.error && (
                        <div className="field-error small" title={vm.error}>
                          {vm.error.slice(0, 60)}
                        </div>
                      )}
                    </td>
                    <td className="hide-narrow">{vm.backend}</td>
                    <td className="hide-narrow muted">
                      {vm.vcpus} vCPU · {formatBytes(vm.memoryMb * 1024 * 1024)}
                    </td>
                    <td className="hide-narrow mono small">{vm.workerId ?? "—"}</td>
                    <td>
                      <RelTime iso={vm.createdAt} />
                    </td>
                    <td className="hide-narrow">
                      <Labels labels={vm.labels} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <ShowMore
          more={Boolean(vms.data?.nextCursor)}
          loading={vms.isFetching}
          shown={items.length}
          noun="sandboxes"
          onMore={showMore}
        />
      </div>
      {creating && <CreateSandboxDialog onClose={() => setCreating(false)} />}
    </>
  );
}
