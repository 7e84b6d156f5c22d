"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { resourceNameSchema } from "@aetherium/types";
import { errorMessage } from "../lib/api/api.js";
import { useApi, useToast } from "./providers.js";
import { Dialog } from "./ui.js";

/** Name a workspace and pick its environment; opens the workspace to watch it being prepared. */
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
  const [errors, setErrors] = useState<{ name?: string; environment?: string }>({});
  const [serverError, setServerError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const items = envs.data?.items ?? [];
  const chosen = env || items[0]?.name || "";

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const errs: { name?: string; environment?: string } = {};
    const parsed = resourceNameSchema.safeParse(name.trim());
    if (!parsed.success) errs.name = parsed.error.issues[0]?.message ?? "not a valid name";
    if (!chosen) errs.environment = "create an environment first";
    setErrors(errs);
    if (Object.keys(errs).length) return;
    setServerError(null);
    setBusy(true);
    try {
      const ws = await api.createWorkspace({ name: name.trim(), environment: chosen });
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
        {serverError && (
          <div className="banner bad" role="alert">
            {serverError}
          </div>
        )}
        <div className="dialog-foot" style={{ padding: 0 }}>
          <button type="button" className="btn" onClick={onClose} data-close>
            Cancel
          </button>
          <button type="submit" className="btn primary" disabled={busy}>
            {busy ? "Creating…" : "Create workspace"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
