"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { createWorkspaceBodySchema } from "@aetherium/types";
import { errorMessage } from "../lib/api/api.js";
import { useApi, useToast } from "./providers.js";
import { CreateFormFoot, Dialog } from "./ui.js";

/** A secret row of the form; both empty means the row is unused. */
interface SecretRow {
  name: string;
  value: string;
}

type Errors = Record<string, string>;

/**
 * Name a workspace, pick its environment and optionally give it secrets (values are write-only);
 * the form is checked with the API's own schema, each error under its field. Opens the workspace
 * to watch it being prepared.
 */
export function CreateWorkspaceDialog({
  environment,
  onClose,
}: {
  /** Preselected environment name (from an environment's "New workspace from it"). */
  environment?: string;
  onClose: () => void;
}) {
  const api = useApi();
  const toast = useToast();
  const qc = useQueryClient();
  const router = useRouter();
  const envs = useQuery({ queryKey: ["environments"], queryFn: () => api.listEnvironments() });
  const [name, setName] = useState("");
  const [env, setEnv] = useState(environment ?? "");
  const [secrets, setSecrets] = useState<SecretRow[]>([]);
  const [errors, setErrors] = useState<Errors>({});
  const [serverError, setServerError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const items = envs.data?.items ?? [];
  const chosen = env || items[0]?.name || "";

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const rows = secrets.filter((r) => r.name.trim() !== "" || r.value !== "");
    const parsed = createWorkspaceBodySchema.safeParse({
      name: name.trim(),
      environment: chosen,
      ...(rows.length
        ? { secrets: rows.map((r) => ({ name: r.name.trim(), value: r.value })) }
        : {}),
    });
    const errs: Errors = {};
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const key = issue.path.join(".") || "form";
        errs[key] ??= issue.message;
      }
    }
    if (!chosen) errs.environment = "create an environment first";
    setErrors(errs);
    if (Object.keys(errs).length || !parsed.success) return;
    setServerError(null);
    setBusy(true);
    try {
      const ws = await api.createWorkspace(parsed.data);
      toast(`Preparing ${ws.name}…`, "ok");
      void qc.invalidateQueries({ queryKey: ["workspaces"] });
      onClose();
      router.push(`/workspaces/detail/?id=${encodeURIComponent(ws.id)}`);
    } catch (err) {
      setServerError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      title="New workspace"
      description="A sandbox prepared from an environment: repository cloned, tools installed, setup run."
      onClose={onClose}
    >
      <form onSubmit={(e) => void submit(e)} className="stack" noValidate>
        <div className="form-grid">
          <label className="field">
            Name
            <input
              name="name"
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder="fix-login-bug"
              aria-invalid={errors.name ? true : undefined}
              aria-describedby={errors.name ? "ws-name-error" : undefined}
            />
            {errors.name && (
              <span className="field-error" id="ws-name-error">
                {errors.name}
              </span>
            )}
          </label>
          <label className="field">
            Environment
            <select
              name="environment"
              value={chosen}
              onChange={(e) => setEnv(e.target.value)}
              disabled={items.length === 0}
            >
              {items.length === 0 && (
                <option value="">{envs.isPending ? "Loading…" : "none yet"}</option>
              )}
              {items.map((x) => (
                <option key={x.id} value={x.name}>
                  {x.name} ({x.agent.type})
                </option>
              ))}
            </select>
            {errors.environment && <span className="field-error">{errors.environment}</span>}
          </label>
        </div>
        <fieldset className="stack secrets-fieldset" style={{ gap: 8 }}>
          <legend className="small muted">
            Secrets (optional): delivered to the agent as environment variables, never shown again
          </legend>
          {secrets.map((row, i) => (
            <div className="secret-row" key={i} data-secret-row={i}>
              <label className="field">
                Name
                <input
                  name={`secret-name-${i}`}
                  className="mono"
                  value={row.name}
                  placeholder="GITHUB_TOKEN"
                  onChange={(e) =>
                    setSecrets((all) =>
                      all.map((r, j) => (j === i ? { ...r, name: e.target.value } : r)),
                    )
                  }
                  aria-invalid={errors[`secrets.${i}.name`] ? true : undefined}
                />
                {errors[`secrets.${i}.name`] && (
                  <span className="field-error">{errors[`secrets.${i}.name`]}</span>
                )}
              </label>
              <label className="field">
                Value
                <input
                  name={`secret-value-${i}`}
                  type="password"
                  autoComplete="off"
                  value={row.value}
                  onChange={(e) =>
                    setSecrets((all) =>
                      all.map((r, j) => (j === i ? { ...r, value: e.target.value } : r)),
                    )
                  }
                  aria-invalid={errors[`secrets.${i}.value`] ? true : undefined}
                />
                {errors[`secrets.${i}.value`] && (
                  <span className="field-error">{errors[`secrets.${i}.value`]}</span>
                )}
              </label>
              <button
                type="button"
                className="btn"
                aria-label={`Remove secret ${i + 1}`}
                onClick={() => setSecrets((all) => all.filter((_, j) => j !== i))}
              >
                Remove
              </button>
            </div>
          ))}
          {errors.secrets && <span className="field-error">{errors.secrets}</span>}
          <div>
            <button
              type="button"
              className="btn"
              onClick={() => setSecrets((all) => [...all, { name: "", value: "" }])}
            >
              Add secret
            </button>
          </div>
        </fieldset>
        <CreateFormFoot
          serverError={serverError}
          busy={busy}
          submitLabel="Create workspace"
          onCancel={onClose}
        />
      </form>
    </Dialog>
  );
}
