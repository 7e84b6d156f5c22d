"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import type { ApiKey, ApiKeyScope, CreateApiKeyResponse } from "@aetherium/types";
import { useTitle } from "../../components/hooks.js";
import { useApi, useSession, useToast } from "../../components/providers.js";
import {
  CopyButton,
  ConfirmDialog,
  Dialog,
  EmptyState,
  ErrorState,
  Loading,
  PageHead,
  RelTime,
} from "../../components/ui.js";
import { errorMessage } from "../../lib/api/api.js";

const SCOPES: { id: ApiKeyScope; hint: string }[] = [
  { id: "read", hint: "list and watch" },
  { id: "write", hint: "create, exec, delete" },
  { id: "admin", hint: "API keys, workers" },
];

type KeyFormat = "aetherium" | "e2b";

const FORMATS: { id: KeyFormat; label: string; hint: string }[] = [
  { id: "aetherium", label: "Aetherium", hint: "ak_…, for the SDK, the CLI and the API" },
  {
    id: "e2b",
    label: "E2B format",
    hint: "e2b_ + 40 hex, for the e2b SDKs' E2B_API_KEY (works on every route)",
  },
];

function CreateKeyDialog({ onClose }: { onClose: () => void }) {
  const api = useApi();
  const { baseUrl } = useSession();
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<ApiKeyScope[]>(["read", "write"]);
  const [format, setFormat] = useState<KeyFormat>("aetherium");
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreateApiKeyResponse | null>(null);
  const create = useMutation({
    mutationFn: () => api.createApiKey(name.trim(), scopes, format),
    onSuccess: (r) => {
      setCreated(r);
      void qc.invalidateQueries({ queryKey: ["api-keys"] });
    },
    onError: (err) => setError(errorMessage(err)),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return setError("Give the key a name, e.g. who or what uses it.");
    if (scopes.length === 0) return setError("Pick at least one scope.");
    setError(null);
    create.mutate();
  };
  if (created) {
    return (
      <Dialog
        title="Key created"
        description="Copy the secret now: it is shown this one time and stored only as a hash."
        onClose={onClose}
        footer={
          <button type="button" className="btn primary" onClick={onClose}>
            I have copied it
          </button>
        }
      >
        <div className="secret-box" data-secret>
          <span style={{ flex: 1 }}>{created.secret}</span>
          <CopyButton text={created.secret} />
        </div>
        <p className="muted small" style={{ margin: 0 }}>
          {created.apiKey.name} · {created.apiKey.scopes.join(", ")}
        </p>
        {created.secret.startsWith("e2b_") && (
          <p className="muted small" style={{ margin: 0 }} data-e2b-hint>
            For the e2b SDKs: set <span className="mono">E2B_API_KEY</span> to this secret and both{" "}
            <span className="mono">E2B_API_URL</span> and{" "}
            <span className="mono">E2B_SANDBOX_URL</span> to{" "}
            <span className="mono">{`${baseUrl.replace(/\/+$/, "")}/e2b`}</span>.
          </p>
        )}
      </Dialog>
    );
  }
  return (
    <Dialog title="New API key" onClose={onClose}>
      <form onSubmit={submit} className="stack" noValidate>
        <label className="field">
          Name
          <input
            name="name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="ci-pipeline"
          />
        </label>
        <fieldset className="field" style={{ border: "none", padding: 0, margin: 0 }}>
          <legend style={{ marginBottom: 6 }}>Scopes</legend>
          <div className="row" style={{ gap: 16 }}>
            {SCOPES.map((s) => (
              <label key={s.id} className="checkbox">
                <input
                  type="checkbox"
                  name={`scope-${s.id}`}
                  checked={scopes.includes(s.id)}
                  onChange={(e) =>
                    setScopes((xs) =>
                      e.target.checked ? [...xs, s.id] : xs.filter((x) => x !== s.id),
                    )
                  }
                />
                {s.id} <span className="faint small">{s.hint}</span>
              </label>
            ))}
          </div>
        </fieldset>
        <fieldset className="field" style={{ border: "none", padding: 0, margin: 0 }}>
          <legend style={{ marginBottom: 6 }}>Format</legend>
          <div className="stack" style={{ gap: 6 }}>
            {FORMATS.map((f) => (
              <label key={f.id} className="checkbox">
                <input
                  type="radio"
                  name="format"
                  value={f.id}
                  checked={format === f.id}
                  onChange={() => setFormat(f.id)}
                />
                {f.label} <span className="faint small">{f.hint}</span>
              </label>
            ))}
          </div>
        </fieldset>
        {error && (
          <div className="field-error" role="alert">
            {error}
          </div>
        )}
        <div className="dialog-foot" style={{ padding: 0 }}>
          <button type="button" className="btn" onClick={onClose} data-close>
            Cancel
          </button>
          <button type="submit" className="btn primary" disabled={create.isPending}>
            Create key
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function RevokeDialog({ k, onClose }: { k: ApiKey; onClose: () => void }) {
  const api = useApi();
  const qc = useQueryClient();
  const toast = useToast();
  const revoke = useMutation({
    mutationFn: () => api.revokeApiKey(k.id),
    onSuccess: () => {
      toast(`Revoked ${k.name}`, "ok");
      onClose();
      void qc.invalidateQueries({ queryKey: ["api-keys"] });
    },
    onError: (err) => toast(`Could not revoke: ${errorMessage(err)}`, "bad"),
  });
  return (
    <ConfirmDialog
      title={`Revoke ${k.name}?`}
      description="Every request with this key fails from now on. This cannot be undone."
      confirmLabel="Revoke key"
      pending={revoke.isPending}
      onConfirm={() => revoke.mutate()}
      onClose={onClose}
    >
      <span className="mono small">{k.id}</span>
    </ConfirmDialog>
  );
}

export default function ApiKeysPage() {
  useTitle("API keys");
  const api = useApi();
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: () => api.listApiKeys() });
  const items = (keys.data?.items ?? []).filter((k) => !k.revokedAt);
  return (
    <>
      <PageHead
        title="API keys"
        subtitle="Keys for the SDK, the CLI, CI and this dashboard. Managing them needs the admin scope."
        actions={
          <button type="button" className="btn primary" onClick={() => setCreating(true)}>
            New key
          </button>
        }
      />
      <div className="card">
        {keys.isPending ? (
          <Loading />
        ) : keys.isError ? (
          <ErrorState error={keys.error} retry={() => void keys.refetch()} />
        ) : items.length === 0 ? (
          <EmptyState title="No API keys">
            Create one for each person, service or pipeline.
          </EmptyState>
        ) : (
          <div className="table-wrap">
            <table className="table" aria-label="API keys">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Scopes</th>
                  <th className="hide-narrow">Created</th>
                  <th>Last used</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {items.map((k) => (
                  <tr key={k.id} data-key-name={k.name}>
                    <td>
                      <strong>{k.name}</strong>
                      <div className="faint mono small">{k.id}</div>
                    </td>
                    <td>
                      {k.scopes.map((s) => (
                        <span key={s} className="chip">
                          {s}
                        </span>
                      ))}
                    </td>
                    <td className="hide-narrow">
                      <RelTime iso={k.createdAt} />
                    </td>
                    <td>
                      {k.lastUsedAt ? (
                        <RelTime iso={k.lastUsedAt} />
                      ) : (
                        <span className="faint">never</span>
                      )}
                    </td>
                    <td style={{ textAlign: "right" }}>
                      <button
                        type="button"
                        className="btn small danger"
                        onClick={() => setRevoking(k)}
                      >
                        Revoke
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      {creating && <CreateKeyDialog onClose={() => setCreating(false)} />}
      {revoking && <RevokeDialog k={revoking} onClose={() => setRevoking(null)} />}
    </>
  );
}
