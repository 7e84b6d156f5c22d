"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import type { IntegrationName } from "@aetherium/types";
import { useTitle } from "../../components/hooks.js";
import { useApi } from "../../components/providers.js";
import {
  CopyButton,
  EmptyState,
  ErrorState,
  Loading,
  PageHead,
  RelTime,
  StatusBadge,
} from "../../components/ui.js";

const PROVIDERS: {
  id: IntegrationName;
  label: string;
  path: string;
  where: string;
  env: string;
}[] = [
  {
    id: "github",
    label: "GitHub",
    path: "/api/v1/integrations/github/webhook",
    where: "Repository → Settings → Webhooks (content type application/json)",
    env: "AETHERIUM_GITHUB_WEBHOOK_SECRET, AETHERIUM_GITHUB_TOKEN",
  },
  {
    id: "slack",
    label: "Slack",
    path: "/api/v1/integrations/slack/commands",
    where: "App → Slash Commands → /aether (events: …/slack/events)",
    env: "AETHERIUM_SLACK_SIGNING_SECRET",
  },
  {
    id: "discord",
    label: "Discord",
    path: "/api/v1/integrations/discord/interactions",
    where: "Application → General Information → Interactions Endpoint URL",
    env: "AETHERIUM_DISCORD_PUBLIC_KEY",
  },
];

function ConnectCard() {
  const origin = typeof window === "undefined" ? "" : window.location.origin;
  return (
    <div className="card">
      <div className="card-head">
        <h2>Connect a provider</h2>
      </div>
      <div className="card-body">
        <dl className="kv small">
          {PROVIDERS.map((p) => (
            <div key={p.id} style={{ display: "contents" }}>
              <dt>{p.label}</dt>
              <dd>
                <span className="mono" data-connect-url={p.id}>
                  {origin}
                  {p.path}
                </span>{" "}
                <CopyButton text={`${origin}${p.path}`} />
                <div className="faint">
                  {p.where}; set {p.env}
                </div>
              </dd>
            </div>
          ))}
        </dl>
      </div>
    </div>
  );
}

export default function IntegrationsPage() {
  useTitle("Integrations");
  const api = useApi();
  const [filter, setFilter] = useState<IntegrationName | "">("");
  const deliveries = useInfiniteQuery({
    queryKey: ["integration-deliveries", filter],
    queryFn: ({ pageParam }) => api.listIntegrationDeliveries(filter || undefined, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    refetchInterval: 10_000,
  });
  const items = deliveries.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <PageHead
        title="Integrations"
        subtitle="Every request GitHub, Slack and Discord sent: whether its signature held, what it asked for and what came of it."
        actions={
          <label className="field row">
            <span className="small muted">Provider</span>
            <select
              name="integration"
              aria-label="Provider"
              value={filter}
              onChange={(e) => setFilter(e.target.value as IntegrationName | "")}
            >
              <option value="">All</option>
              {PROVIDERS.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.label}
                </option>
              ))}
            </select>
          </label>
        }
      />
      <div className="stack">
        <ConnectCard />
        <div className="card">
          {deliveries.isPending ? (
            <Loading />
          ) : deliveries.isError ? (
            <ErrorState error={deliveries.error} retry={() => void deliveries.refetch()} />
          ) : items.length === 0 ? (
            <EmptyState title="No deliveries yet" icon="integrations">
              Give a provider the URL above; its first request shows up here.
            </EmptyState>
          ) : (
            <div className="table-wrap">
              <table className="table" aria-label="Deliveries">
                <thead>
                  <tr>
                    <th>Received</th>
                    <th>Provider</th>
                    <th>Event</th>
                    <th>Signature</th>
                    <th>Action</th>
                    <th>Outcome</th>
                    <th className="hide-narrow">Detail</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((d) => (
                    <tr key={d.id} data-delivery-id={d.deliveryId ?? ""}>
                      <td>
                        <RelTime iso={d.receivedAt} />
                      </td>
                      <td>{d.integration}</td>
                      <td className="mono small">{d.event}</td>
                      <td>
                        <span className={`badge ${d.verified ? "ok" : "bad"}`}>
                          <span className="dot" aria-hidden="true" />
                          {d.verified ? (d.replay ? "replay" : "verified") : "not verified"}
                        </span>
                      </td>
                      <td>
                        {d.action ?? <span className="faint">—</span>}
                        {d.target && <span className="faint small"> · {d.target}</span>}
                        {d.taskId && (
                          <div>
                            <Link
                              className="mono small"
                              href={`/tasks/detail/?id=${encodeURIComponent(d.taskId)}`}
                            >
                              task {d.taskId.slice(0, 8)}
                            </Link>
                          </div>
                        )}
                      </td>
                      <td>
                        <StatusBadge status={d.outcome} />
                      </td>
                      <td className="hide-narrow small">{d.detail}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {deliveries.hasNextPage && (
            <div className="card-body">
              <button
                type="button"
                className="btn"
                disabled={deliveries.isFetchingNextPage}
                onClick={() => void deliveries.fetchNextPage()}
              >
                Show more
              </button>
            </div>
          )}
        </div>
      </div>
    </>
  );
}
