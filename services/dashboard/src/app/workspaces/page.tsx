"use client";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useQuery } from "@tanstack/react-query";
import { Suspense, useState } from "react";
import type { Workspace } from "@aetherium/types";
import { CreateWorkspaceDialog } from "../../components/create-workspace-dialog.js";
import { useTitle } from "../../components/hooks.js";
import { useApi } from "../../components/providers.js";
import { EmptyState, Loading, PageHead, RelTime, StatusBadge } from "../../components/ui.js";
import { QueryList } from "../../components/query-list.js";

/** While any workspace is being made, the list refreshes itself. */
const BUSY = new Set(["creating", "preparing"]);

function Workspaces() {
  useTitle("Workspaces");
  const api = useApi();
  const preselected = useSearchParams().get("environment") ?? undefined;
  const [creating, setCreating] = useState(preselected !== undefined);
  // Environment names for the list (a workspace records its environment's id).
  const envs = useQuery({ queryKey: ["environments"], queryFn: () => api.listEnvironments() });
  const envName = (id: string | null) =>
    id === null ? "—" : (envs.data?.items.find((e) => e.id === id)?.name ?? id);
  return (
    <>
      <PageHead
        title="Workspaces"
        subtitle="Prepared sandboxes for coding agents, made from an environment, with their secrets and prompt history."
        actions={
          <button type="button" className="btn primary" onClick={() => setCreating(true)}>
            New workspace
          </button>
        }
      />
      <div className="card">
        <QueryList<Workspace>
          queryKey={["workspaces"]}
          load={() => api.listWorkspaces()}
          refetchInterval={(items) => (items.some((w) => BUSY.has(w.status)) ? 2000 : false)}
          empty={
            <EmptyState title="No workspaces yet">
              Create one from an environment with New workspace, the CLI (
              <code>aether ws create</code>) or the API.
            </EmptyState>
          }
          render={(items) => (
            <table className="table" aria-label="Workspaces">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Status</th>
                  <th>Environment</th>
                  <th className="hide-narrow">Agent</th>
                  <th className="hide-narrow">Steps</th>
                  <th className="hide-narrow">Last active</th>
                  <th>Created</th>
                </tr>
              </thead>
              <tbody>
                {items.map((w) => (
                  <tr key={w.id} data-ws-name={w.name}>
                    <td>
                      <Link href={`/workspaces/detail/?id=${encodeURIComponent(w.id)}`}>
                        <strong>{w.name}</strong>
                      </Link>
                      <div className="faint mono small">{w.id}</div>
                    </td>
                    <td data-col="status">
                      <StatusBadge status={w.status} />
                      {w.failedStep && <div className="small muted">at {w.failedStep}</div>}
                    </td>
                    <td data-col="environment">{envName(w.environmentId)}</td>
                    <td className="hide-narrow">{w.agent.type}</td>
                    <td className="hide-narrow small">
                      {w.prepSteps.filter((s) => s.status === "succeeded").length}/
                      {w.prepSteps.length}
                    </td>
                    <td className="hide-narrow">
                      <RelTime iso={w.idleSince} />
                    </td>
                    <td>
                      <RelTime iso={w.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        />
      </div>
      {creating && (
        <CreateWorkspaceDialog environment={preselected} onClose={() => setCreating(false)} />
      )}
    </>
  );
}

export default function WorkspacesPage() {
  return (
    <Suspense fallback={<Loading rows={4} />}>
      <Workspaces />
    </Suspense>
  );
}
