"use client";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useTitle } from "../../components/hooks.js";
import { useApi } from "../../components/providers.js";
import { EmptyState, ErrorState, Loading, PageHead } from "../../components/ui.js";
import { errorMessage, type RawResponse } from "../../lib/api/api.js";
import { fillPath, listOperations, type ApiOperation } from "../../lib/api/openapi.js";

function pretty(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

function Operation({ op }: { op: ApiOperation }) {
  const api = useApi();
  const [values, setValues] = useState<Record<string, string>>({});
  const [body, setBody] = useState(op.bodyExample ?? "");
  const [res, setRes] = useState<RawResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const isWs = /\/(exec|events|ws)$/.test(op.path) && op.method === "GET";
  const send = async () => {
    setBusy(true);
    setError(null);
    try {
      const path = fillPath(op.path, values);
      const q = new URLSearchParams();
      for (const p of op.parameters.filter((p) => p.in === "query")) {
        if (values[p.name]) q.append(p.name, values[p.name]!);
      }
      const qs = q.toString();
      setRes(
        await api.raw(op.method, `${path}${qs ? `?${qs}` : ""}`, op.hasBody ? body : undefined),
      );
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const params = op.parameters.filter((p) => p.in === "path" || p.in === "query");
  return (
    <details className="op">
      <summary>
        <span className={`method ${op.method}`}>{op.method}</span>
        <span className="mono">{op.path}</span>
        <span className="muted small hide-narrow">{op.summary}</span>
      </summary>
      <div className="op-body">
        {op.description && (
          <p className="muted" style={{ margin: 0 }}>
            {op.description}
          </p>
        )}
        {params.length > 0 && (
          <div className="form-grid">
            {params.map((p) => (
              <label key={`${p.in}-${p.name}`} className="field">
                <span>
                  {p.name}{" "}
                  <span className="field-hint">
                    {p.in}
                    {p.required ? ", required" : ""}
                    {p.type ? ` · ${p.type}` : ""}
                  </span>
                </span>
                <input
                  value={values[p.name] ?? ""}
                  onChange={(e) => setValues((v) => ({ ...v, [p.name]: e.target.value }))}
                  placeholder={p.description ?? ""}
                />
              </label>
            ))}
          </div>
        )}
        {op.hasBody && (
          <label className="field">
            JSON body
            <textarea rows={6} value={body} onChange={(e) => setBody(e.target.value)} />
          </label>
        )}
        <div className="row">
          {isWs ? (
            <span className="muted small">
              A WebSocket: use the terminal, the console or the SDK.
            </span>
          ) : (
            <button
              type="button"
              className="btn primary small"
              disabled={busy}
              onClick={() => void send()}
            >
              {busy ? "Sending…" : "Send request"}
            </button>
          )}
          {op.responses.length > 0 && (
            <span className="faint small">answers {op.responses.join(", ")}</span>
          )}
        </div>
        {error && <div className="banner bad">{error}</div>}
        {res && (
          <div className="stack" style={{ gap: 6 }}>
            <div className="row small">
              <span
                className={`badge ${res.status < 300 ? "ok" : res.status < 500 ? "busy" : "bad"}`}
              >
                {res.status} {res.statusText}
              </span>
              <span className="muted">{Math.round(res.durationMs)} ms</span>
            </div>
            <pre className="code">{pretty(res.body) || "(empty body)"}</pre>
          </div>
        )}
      </div>
    </details>
  );
}

export default function ApiExplorerPage() {
  useTitle("API explorer");
  const api = useApi();
  const [filter, setFilter] = useState("");
  const doc = useQuery({ queryKey: ["openapi"], queryFn: () => api.openapi(), staleTime: 300_000 });
  const ops = useMemo(() => (doc.data ? listOperations(doc.data) : []), [doc.data]);
  const shown = ops.filter(
    (o) =>
      !filter || `${o.method} ${o.path} ${o.summary}`.toLowerCase().includes(filter.toLowerCase()),
  );
  const groups = new Map<string, ApiOperation[]>();
  for (const o of shown) groups.set(o.tag, [...(groups.get(o.tag) ?? []), o]);
  const info = (doc.data as { info?: { title?: string; version?: string } } | undefined)?.info;
  return (
    <>
      <PageHead
        title="API explorer"
        subtitle={
          <>
            Every route of <code>/api/v1/openapi.json</code>
            {info?.version ? ` (version ${info.version})` : ""}, callable with your key.
          </>
        }
        actions={
          <input
            aria-label="Filter routes"
            placeholder="Filter routes"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
          />
        }
      />
      <div className="card">
        {doc.isPending ? (
          <Loading rows={8} />
        ) : doc.isError ? (
          <ErrorState error={doc.error} retry={() => void doc.refetch()} />
        ) : shown.length === 0 ? (
          <EmptyState title={ops.length ? "No route matches" : "The document lists no routes"} />
        ) : (
          [...groups.entries()].map(([tag, list]) => (
            <section key={tag}>
              <div className="card-head" style={{ background: "var(--panel-2)" }}>
                <h3>{tag}</h3>
                <span className="faint small">{list.length}</span>
              </div>
              {list.map((op) => (
                <Operation key={op.id} op={op} />
              ))}
            </section>
          ))
        )}
      </div>
    </>
  );
}
