"use client";
import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { errorMessage } from "../lib/api/api.js";
import {
  buildCreateEnvironmentBody,
  EMPTY_ENVIRONMENT_FORM,
  type EnvironmentFieldErrors,
  type EnvironmentFormValues,
} from "../lib/forms/environment-form.js";
import { useApi, useToast } from "./providers.js";
import { CreateFormFoot, Dialog } from "./ui.js";

export function CreateEnvironmentDialog({ onClose }: { onClose: () => void }) {
  const api = useApi();
  const toast = useToast();
  const qc = useQueryClient();
  const [form, setForm] = useState<EnvironmentFormValues>(EMPTY_ENVIRONMENT_FORM);
  const [errors, setErrors] = useState<EnvironmentFieldErrors>({});
  const [serverError, setServerError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const set = (k: keyof EnvironmentFormValues) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const built = buildCreateEnvironmentBody(form);
    if (!built.ok) {
      setErrors(built.errors);
      return;
    }
    setErrors({});
    setServerError(null);
    setBusy(true);
    try {
      const env = await api.createEnvironment(built.body);
      toast(`Created environment ${env.name}`, "ok");
      void qc.invalidateQueries({ queryKey: ["environments"] });
      onClose();
    } catch (err) {
      setServerError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const error = (k: keyof EnvironmentFormValues) =>
    errors[k] && (
      <span className="field-error" id={`${k}-error`}>
        {errors[k]}
      </span>
    );
  const invalid = (k: keyof EnvironmentFormValues) => ({
    "aria-invalid": errors[k] ? true : undefined,
    "aria-describedby": errors[k] ? `${k}-error` : undefined,
  });
  const field = (
    k: keyof EnvironmentFormValues,
    label: string,
    props: { placeholder?: string; hint?: string; wide?: boolean; inputMode?: "numeric" } = {},
  ) => (
    <label className={`field${props.wide ? " wide" : ""}`}>
      <span>
        {label} {props.hint && <span className="field-hint">{props.hint}</span>}
      </span>
      <input
        name={k}
        value={form[k]}
        onChange={set(k)}
        placeholder={props.placeholder}
        inputMode={props.inputMode}
        {...invalid(k)}
      />
      {error(k)}
    </label>
  );
  const area = (k: keyof EnvironmentFormValues, label: string, hint: string, rows = 3) => (
    <label className="field wide">
      <span>
        {label} <span className="field-hint">{hint}</span>
      </span>
      <textarea name={k} rows={rows} value={form[k]} onChange={set(k)} {...invalid(k)} />
      {error(k)}
    </label>
  );

  return (
    <Dialog
      title="New environment"
      description="A recipe for workspaces: agent, repository, tools, setup. Empty fields take the server's defaults."
      onClose={onClose}
    >
      <form onSubmit={(e) => void submit(e)} className="stack" noValidate>
        <div className="form-grid">
          {field("name", "Name", { placeholder: "web-app" })}
          <label className="field">
            Agent
            <select name="agentType" value={form.agentType} onChange={set("agentType")}>
              <option value="claude-code">Claude Code</option>
              <option value="amp">Amp</option>
              <option value="custom">Custom command</option>
            </select>
            {error("agentType")}
          </label>
          {field("agentCommand", "Agent command", {
            placeholder: form.agentType === "custom" ? "required for custom" : "default",
            hint: "runs through /bin/sh -c",
            wide: true,
          })}
          {field("model", "Model", { placeholder: "the agent's default" })}
          {field("idleMin", "Idle timeout", {
            placeholder: "30",
            inputMode: "numeric",
            hint: "minutes before its sandbox stops",
          })}
          {field("repoUrl", "Repository", {
            placeholder: "https://github.com/org/repo.git",
            wide: true,
          })}
          {field("repoBranch", "Branch", { placeholder: "the repository's default" })}
          {field("repoDir", "Directory", { placeholder: "/workspace" })}
          {field("tools", "Tools", {
            placeholder: "node@20 python@3.12 npm:prettier",
            hint: "installed with mise",
            wide: true,
          })}
          {field("secrets", "Secrets", {
            placeholder: "GITHUB_TOKEN ANTHROPIC_API_KEY",
            hint: "names the agent gets",
            wide: true,
          })}
          {field("image", "Image", { placeholder: "aetherium/base" })}
          {field("description", "Description")}
          {field("vcpus", "vCPUs", { placeholder: "2", inputMode: "numeric" })}
          {field("memoryMb", "Memory (MiB)", { placeholder: "2048", inputMode: "numeric" })}
          {area("env", "Environment", "KEY=value, one per line")}
          {area("setup", "Setup script", "runs after the clone and the tools", 4)}
          {area("systemPrompt", "System prompt", "given to the agent with every prompt")}
        </div>
        <CreateFormFoot
          serverError={serverError}
          busy={busy}
          submitLabel="Create environment"
          onCancel={onClose}
        />
      </form>
    </Dialog>
  );
}
