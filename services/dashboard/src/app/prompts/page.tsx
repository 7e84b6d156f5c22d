"use client";
import { useTitle } from "../../components/hooks.js";
import { useApi } from "../../components/providers.js";
import { EmptyState, PageHead } from "../../components/ui.js";
import { UpcomingList } from "../../components/upcoming-list.js";

type Row = Record<string, unknown>;
const str = (v: unknown) => (typeof v === "string" ? v : "");

export default function PromptsPage() {
  useTitle("Prompts");
  const api = useApi();
  return (
    <>
      <PageHead
        title="Prompts"
        subtitle="What was asked of the agents in each workspace, and how it went."
      />
      <div className="card">
        <UpcomingList<Row>
          queryKey={["workspaces"]}
          load={() => api.listWorkspaces()}
          what="Prompts"
          route="GET /api/v1/workspaces/{id}/prompts"
          empty={
            <EmptyState title="No prompts yet">
              Prompts belong to workspaces; create a workspace and submit one to see it here.
            </EmptyState>
          }
          render={(items) => (
            <table className="table" aria-label="Workspaces with prompts">
              <thead>
                <tr>
                  <th>Workspace</th>
                  <th>Status</th>
                </tr>
              </thead>
              <tbody>
                {items.map((w) => (
                  <tr key={str(w.id)}>
                    <td>{str(w.name)}</td>
                    <td>{str(w.status)}</td>
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
