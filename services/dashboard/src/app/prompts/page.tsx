"use client";
import { useQuery } from "@tanstack/react-query";
import type { Workspace } from "@aetherium/types";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState, type FormEvent } from "react";
import { useTitle } from "../../components/hooks.js";
import { PromptConsole } from "../../components/prompt-console.js";
import { useApi } from "../../components/providers.js";
import {
  Card,
  EmptyState,
  ErrorState,
  Loading,
  PageHead,
  RelTime,
  StatusBadge,
} from "../../components/ui.js";
import { QueryList } from "../../components/query-list.js";
import { errorMessage } from "../../lib/api/api.js";

/** The workspace's latest prompts. */
function PromptHistory({ workspaceId }: { workspaceId: string }) {
  const api = useApi();
  const q = useQuery({
    queryKey: ["prompts", workspaceId],
    queryFn: () => api.listPrompts(workspaceId),
    refetchInterval: 5000,
  });
  if (q.isPending) return <Loading rows={3} />;
  if (q.isError) return <ErrorState error={q.error} retry={() => void q.refetch()} />;
  if (q.data.items.length === 0)
    return <EmptyState title="No prompts yet">Send one above to see it here.</EmptyState>;
  return (
    <table className="table" aria-label="Prompts">
      <thead>
        <tr>
          <th>Prompt</th>
          <th>Status</th>
          <th>Exit</th>
          <th>Duration</th>
          <th>Sent</th>
        </tr>
      </thead>
      <tbody>
        {q.data.items.map((p) => (
          <tr key={p.id}>
            <td title={p.prompt}>
              {p.prompt.length > 80 ? `${p.prompt.slice(0, 80)}…` : p.prompt}
            </td>
            <td>
              <StatusBadge status={p.status} />
              {p.position !== null && <span className="muted"> #{p.position}</span>}
            </td>
            <td className="mono">{p.exitCode ?? "-"}</td>
            <td className="mono">
              {p.durationMs === null ? "-" : `${(p.durationMs / 1000).toFixed(1)} s`}
            </td>
            <td>
              <RelTime iso={p.createdAt} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Prompts() {
  useTitle("Prompts");
  const api = useApi();
  const router = useRouter();
  const params = useSearchParams();
  const workspaceId = params.get("workspace") ?? "";
  const [typed, setTyped] = useState(workspaceId);
  const [lookupError, setLookupError] = useState<string | null>(null);
  // A name is looked up (the gateway reads workspaces by id or name); the page keys on the id.
  const choose = async (e: FormEvent) => {
    e.preventDefault();
    const ref = typed.trim();
    if (!ref) return;
    try {
      const w = await api.getWorkspace(ref);
      setLookupError(null);
      router.push(`/prompts/?workspace=${encodeURIComponent(w.id)}`);
    } catch (err) {
      setLookupError(errorMessage(err));
    }
  };
  return (
    <>
      <PageHead
        title="Prompts"
        subtitle="Ask a workspace's agent and watch the answer stream; see what was asked before."
      />
      <form className="row" style={{ gap: 8, marginBottom: 16 }} onSubmit={(e) => void choose(e)}>
        <label className="field">
          <span>Workspace id or name</span>
          <input
            name="workspace"
            className="mono"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
          />
        </label>
        <button type="submit" className="btn">
          Open
        </button>
      </form>
      {lookupError && (
        <div className="banner bad" role="alert" style={{ marginBottom: 16 }}>
          {lookupError}
        </div>
      )}
      {workspaceId ? (
        <div className="stack" style={{ gap: 16 }}>
          <Card title="Session">
            <PromptConsole key={workspaceId} workspaceId={workspaceId} />
          </Card>
          <Card title="Recent prompts">
            <PromptHistory workspaceId={workspaceId} />
          </Card>
        </div>
      ) : (
        <div className="card">
          <QueryList<Workspace>
            queryKey={["workspaces"]}
            load={() => api.listWorkspaces()}
            empty={
              <EmptyState title="No workspaces yet">
                Prompts go to a workspace's agent; create a workspace first.
              </EmptyState>
            }
            render={(items) => (
              <table className="table" aria-label="Workspaces">
                <thead>
                  <tr>
                    <th>Workspace</th>
                    <th>Status</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((w) => (
                    <tr key={w.id}>
                      <td>
                        <a href={`/prompts/?workspace=${encodeURIComponent(w.id)}`}>{w.name}</a>
                      </td>
                      <td>
                        <StatusBadge status={w.status} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          />
        </div>
      )}
    </>
  );
}

export default function PromptsPage() {
  return (
    <Suspense fallback={<Loading rows={6} />}>
      <Prompts />
    </Suspense>
  );
}
