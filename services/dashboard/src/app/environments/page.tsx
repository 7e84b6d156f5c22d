"use client";
import type { Environment } from "@aetherium/types";
import { useTitle } from "../../components/hooks.js";
import { useApi } from "../../components/providers.js";
import { EmptyState, PageHead, RelTime } from "../../components/ui.js";
import { UpcomingList } from "../../components/upcoming-list.js";

export default function EnvironmentsPage() {
  useTitle("Environments");
  const api = useApi();
  return (
    <>
      <PageHead
        title="Environments"
        subtitle="Reusable recipes for agent workspaces: image, tools, repository, MCP servers, network."
      />
      <div className="card">
        <UpcomingList<Environment>
          queryKey={["environments"]}
          load={() => api.listEnvironments()}
          what="Environments"
          route="GET /api/v1/environments"
          empty={
            <EmptyState title="No environments yet">
              Create one with <code>aether env create</code> or{" "}
              <code>POST /api/v1/environments</code>; it will show here.
            </EmptyState>
          }
          render={(items) => (
            <table className="table" aria-label="Environments">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Image</th>
                  <th className="hide-narrow">Tools</th>
                  <th className="hide-narrow">Repository</th>
                  <th>Created</th>
                </tr>
              </thead>
              <tbody>
                {items.map((e) => (
                  <tr key={e.id}>
                    <td>
                      <strong>{e.name}</strong>
                      <div className="muted small">{e.description}</div>
                    </td>
                    <td className="mono small">{e.image ?? "default"}</td>
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
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        />
      </div>
    </>
  );
}
