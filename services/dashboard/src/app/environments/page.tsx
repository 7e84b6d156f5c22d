"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import type { Environment } from "@aetherium/types";
import { CreateEnvironmentDialog } from "../../components/create-environment-dialog.js";
import { useTitle } from "../../components/hooks.js";
import { useApi, useToast } from "../../components/providers.js";
import {
  ConfirmDialog,
  Dialog,
  EmptyState,
  Json,
  KeyValues,
  PageHead,
  RelTime,
} from "../../components/ui.js";
import { QueryList } from "../../components/query-list.js";
import { errorMessage } from "../../lib/api/api.js";

function DeleteEnvironmentDialog({ env, onClose }: { env: Environment; onClose: () => void }) {
  const api = useApi();
  const qc = useQueryClient();
  const toast = useToast();
  const remove = useMutation({
    mutationFn: () => api.deleteEnvironment(env.id),
    onSuccess: () => {
      toast(`Deleted environment ${env.name}`, "ok");
      onClose();
      void qc.invalidateQueries({ queryKey: ["environments"] });
    },
    onError: (err) => toast(`Could not delete: ${errorMessage(err)}`, "bad"),
  });
  return (
    <ConfirmDialog
      title={`Delete ${env.name}?`}
      description="Workspaces made from it keep working: each keeps the environment as it was made."
      confirmLabel="Delete environment"
      pending={remove.isPending}
      onConfirm={() => remove.mutate()}
      onClose={onClose}
    >
      <span className="mono small">{env.id}</span>
    </ConfirmDialog>
  );
}

/** Everything an environment says, for the detail dialog. */
function EnvironmentDetail({ env, onClose }: { env: Environment; onClose: () => void }) {
  return (
    <Dialog title={env.name} description={env.description || undefined} onClose={onClose}>
      <KeyValues
        rows={[
          ["ID", env.id, "mono"],
          ["Agent", `${env.agent.type}${env.agent.model ? ` · ${env.agent.model}` : ""}`],
          ["Command", env.agent.command ?? "default", "mono"],
          [
            "Repository",
            env.repo ? `${env.repo.url}${env.repo.branch ? ` (${env.repo.branch})` : ""}` : "—",
            "mono",
          ],
          ["Tools", env.tools.length ? env.tools.join(", ") : "—", "mono"],
          ["Secrets", env.secrets.length ? env.secrets.join(", ") : "—", "mono"],
          ["Setup steps", String(env.setup.length)],
          ["MCP servers", env.mcpServers.map((s) => s.name).join(", ") || "—"],
          ["Size", `${env.vcpus} vCPU · ${env.memoryMb} MiB`],
          ["Idle timeout", `${Math.round(env.idleTimeoutSec / 60)} min`],
          ["Created", <RelTime key="c" iso={env.createdAt} />],
        ]}
      />
      <details>
        <summary className="muted small">As JSON</summary>
        <Json value={env} />
      </details>
      <Link
        className="btn primary"
        href={`/workspaces/?environment=${encodeURIComponent(env.name)}`}
      >
        New workspace from it
      </Link>
    </Dialog>
  );
}

export default function EnvironmentsPage() {
  useTitle("Environments");
  const api = useApi();
  const [creating, setCreating] = useState(false);
  const [showing, setShowing] = useState<Environment | null>(null);
  const [deleting, setDeleting] = useState<Environment | null>(null);
  return (
    <>
      <PageHead
        title="Environments"
        subtitle="Reusable recipes for agent workspaces: agent, repository, tools, setup, MCP servers, network."
        actions={
          <button type="button" className="btn primary" onClick={() => setCreating(true)}>
            New environment
          </button>
        }
      />
      <div className="card">
        <QueryList<Environment>
          queryKey={["environments"]}
          load={() => api.listEnvironments()}
          empty={
            <EmptyState title="No environments yet">
              Create one with New environment, the CLI (<code>aether env create</code>) or the API.
            </EmptyState>
          }
          render={(items) => (
            <table className="table" aria-label="Environments">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Agent</th>
                  <th className="hide-narrow">Tools</th>
                  <th className="hide-narrow">Repository</th>
                  <th>Created</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {items.map((e) => (
                  <tr key={e.id} data-env-name={e.name}>
                    <td>
                      <button type="button" className="link-button" onClick={() => setShowing(e)}>
                        <strong>{e.name}</strong>
                      </button>
                      <div className="muted small">{e.description}</div>
                    </td>
                    <td>{e.agent.type}</td>
                    <td className="hide-narrow">
                      {e.tools.map((t) => (
                        <span key={t} className="chip">
                          {t}
                        </span>
                      ))}
                    </td>
                    <td className="hide-narrow mono small">{e.repo?.url ?? "—"}</td>
                    <td>
                      <RelTime iso={e.createdAt} />
                    </td>
                    <td style={{ textAlign: "right" }}>
                      <button
                        type="button"
                        className="btn small danger"
                        onClick={() => setDeleting(e)}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        />
      </div>
      {creating && <CreateEnvironmentDialog onClose={() => setCreating(false)} />}
      {showing && <EnvironmentDetail env={showing} onClose={() => setShowing(null)} />}
      {deleting && <DeleteEnvironmentDialog env={deleting} onClose={() => setDeleting(null)} />}
    </>
  );
}
