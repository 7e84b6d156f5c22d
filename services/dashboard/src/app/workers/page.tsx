"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import type { Page, Worker } from "@aetherium/types";
import { Meter } from "../../components/charts.js";
import { useTitle, useVms, useWorkers } from "../../components/hooks.js";
import { useApi, useToast } from "../../components/providers.js";
import {
  EmptyState,
  ErrorState,
  Labels,
  Loading,
  PageHead,
  RelTime,
  StatusBadge,
} from "../../components/ui.js";
import { errorMessage } from "../../lib/api/api.js";
import { applyWorkerToList } from "../../lib/live/reducers.js";
import { formatBytes } from "../../format/format.js";

function WorkerCard({
  w,
  vms,
}: {
  w: Worker;
  vms: { id: string; name: string; status: string }[];
}) {
  const api = useApi();
  const toast = useToast();
  const qc = useQueryClient();
  const toggle = useMutation({
    mutationFn: () => (w.status === "draining" ? api.activateWorker(w.id) : api.drainWorker(w.id)),
    onSuccess: (worker) => {
      qc.setQueryData<Page<Worker>>(["workers"], (old) => applyWorkerToList(old, worker));
      toast(`${worker.hostname || worker.id} is now ${worker.status}`, "ok");
    },
    onError: (err) => toast(errorMessage(err), "bad"),
  });
  return (
    <div className="card" data-worker-id={w.id}>
      <div className="card-head">
        <div>
          <h2>{w.hostname || w.id}</h2>
          <div className="faint mono small">{w.id}</div>
        </div>
        <div className="row">
          <StatusBadge status={w.status} />
          <span className={`badge ${w.healthy ? "ok" : "bad"}`}>
            <span className="dot" />
            {w.healthy ? "healthy" : "unhealthy"}
          </span>
        </div>
      </div>
      <div className="card-body stack">
        <Meter label="vCPUs reserved" used={w.used.vcpus} total={w.capacity.vcpus} />
        <Meter
          label="Memory reserved"
          used={w.used.memoryMb}
          total={w.capacity.memoryMb}
          format={(v) => formatBytes(v * 1048576)}
        />
        <Meter label="Sandboxes" used={w.used.vms} total={w.capacity.maxVms} />
        <dl className="kv small">
          <dt>Backends</dt>
          <dd>
            {w.backends.length ? (
              w.backends.join(", ")
            ) : (
              <span className="field-error">none working</span>
            )}
          </dd>
          <dt>Zone</dt>
          <dd>{w.zone || "—"}</dd>
          <dt>Address</dt>
          <dd className="mono">{w.address}</dd>
          <dt>Last heartbeat</dt>
          <dd>
            <RelTime iso={w.lastSeenAt} />
          </dd>
          <dt>Labels</dt>
          <dd>
            <Labels labels={w.labels} />
          </dd>
          <dt>Sandboxes</dt>
          <dd>
            {vms.length === 0 ? (
              <span className="faint">none</span>
            ) : (
              vms.map((v) => (
                <Link
                  key={v.id}
                  href={`/sandboxes/detail/?id=${encodeURIComponent(v.id)}`}
                  className="chip"
                >
                  {v.name} · {v.status}
                </Link>
              ))
            )}
          </dd>
        </dl>
        {w.status !== "offline" && (
          <div className="row">
            <button
              type="button"
              className="btn"
              disabled={toggle.isPending}
              onClick={() => toggle.mutate()}
            >
              {w.status === "draining" ? "Activate" : "Drain"}
            </button>
            <span className="muted small">
              {w.status === "draining"
                ? "Draining: keeps its sandboxes, takes no new ones."
                : "Draining stops new sandboxes from landing here."}
            </span>
          </div>
        )}
      </div>
    </div>
  );
}

export default function WorkersPage() {
  useTitle("Workers");
  const workers = useWorkers();
  const vms = useVms({});
  const byWorker = new Map<string, { id: string; name: string; status: string }[]>();
  for (const v of vms.data?.items ?? []) {
    if (!v.workerId) continue;
    byWorker.set(v.workerId, [...(byWorker.get(v.workerId) ?? []), v]);
  }
  return (
    <>
      <PageHead
        title="Workers"
        subtitle="The hosts that run sandboxes: capacity, health and what runs where."
      />
      {workers.isPending ? (
        <div className="card">
          <Loading rows={5} />
        </div>
      ) : workers.isError ? (
        <div className="card">
          <ErrorState error={workers.error} retry={() => void workers.refetch()} />
        </div>
      ) : workers.data.items.length === 0 ? (
        <div className="card">
          <EmptyState title="No workers have registered">
            In embedded mode (<code>npm start</code>) the gateway runs a worker itself; in
            distributed mode, start one per host.
          </EmptyState>
        </div>
      ) : (
        <div className="grid cols-2">
          {workers.data.items.map((w) => (
            <WorkerCard key={w.id} w={w} vms={byWorker.get(w.id) ?? []} />
          ))}
        </div>
      )}
    </>
  );
}
