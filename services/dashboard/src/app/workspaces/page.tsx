"use client";
import { useTitle } from "../../components/hooks.js";
import { useApi } from "../../components/providers.js";
import { EmptyState, PageHead, RelTime, StatusBadge } from "../../components/ui.js";
import { UpcomingList } from "../../components/upcoming-list.js";

type Row = Record<string, unknown>;
const str = (v: unknown) => (typeof v === "string" ? v : "");

export default function WorkspacesPage() {
  useTitle("Workspaces");
  const api = useApi();
  return (
    <>
      <PageHead
        title="Workspaces"
        subtitle="Long-lived agent workspaces with their sandbox, secrets and prompt history."
      />
      <div className="card">
        <UpcomingList<Row>
          queryKey={["workspaces"]}
          load={() => api.listWorkspaces()}
          what="Workspaces"
          route="GET /api/v1/workspaces"
          empty={
            <EmptyState title="No workspaces yet">
              Create one through the API; it will show here.
            </EmptyState>
          }
          render={(items) => (
            <table className="table" aria-label="Workspaces">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Status</th>
                  <th className="hide-narrow">Assistant</th>
                  <th>Created</th>
                </tr>
              </thead>
              <tbody>
                {items.map((w) => (
                  <tr key={str(w.id)}>
                    <td>
                      <strong>{str(w.name)}</strong>
                      <div className="faint mono small">{str(w.id)}</div>
                    </td>
                    <td>
                      <StatusBadge status={str(w.status)} />
                    </td>
                    <td className="hide-narrow">{str(w.aiAssistant) || "—"}</td>
                    <td>
                      <RelTime iso={str(w.createdAt)} />
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
