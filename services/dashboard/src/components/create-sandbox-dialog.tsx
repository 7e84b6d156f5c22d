"use client";
import { useState, type FormEvent } from "react";
import { useRouter } from "next/navigation";
import { errorMessage } from "../lib/api/api.js";
import {
  backendChoices,
  buildCreateVmBody,
  EMPTY_SANDBOX_FORM,
  type FieldErrors,
  type SandboxFormValues,
} from "../lib/forms/sandbox-form.js";
import { useBackends, useInsertVm } from "./hooks.js";
import { useApi, useToast } from "./providers.js";
import { CreateFormFoot, Dialog } from "./ui.js";

export function CreateSandboxDialog({ onClose }: { onClose: () => void }) {
  const api = useApi();
  const toast = useToast();
  const router = useRouter();
  const insert = useInsertVm();
  const [form, setForm] = useState<SandboxFormValues>(EMPTY_SANDBOX_FORM);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [serverError, setServerError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [openAfter, setOpenAfter] = useState(false);
  const backends = backendChoices(useBackends().data);
  // A backend picked before the fleet stopped offering it is no longer shown, so not sent either.
  const backend = backends.choices.some((c) => c.value === form.backend) ? form.backend : "";

  const set = (k: keyof SandboxFormValues) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const built = buildCreateVmBody({ ...form, backend });
    if (!built.ok) {
      setErrors(built.errors);
      return;
    }
    setErrors({});
    setServerError(null);
    setBusy(true);
    try {
      const { vm } = await api.createVm(built.body);
      insert(vm);
      toast(`Creating ${vm.name}…`, "ok");
      onClose();
      if (openAfter) router.push(`/sandboxes/detail/?id=${encodeURIComponent(vm.id)}`);
    } catch (err) {
      setServerError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const field = (
    k: keyof SandboxFormValues,
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
        aria-invalid={errors[k] ? true : undefined}
        aria-describedby={errors[k] ? `${k}-error` : undefined}
      />
      {errors[k] && (
        <span className="field-error" id={`${k}-error`}>
          {errors[k]}
        </span>
      )}
    </label>
  );

  return (
    <Dialog
      title="New sandbox"
      description="Every field is optional: empty fields take the server's defaults."
      onClose={onClose}
    >
      <form onSubmit={(e) => void submit(e)} className="stack" noValidate>
        <div className="form-grid">
          {field("name", "Name", { placeholder: "generated if empty" })}
          {field("image", "Image", { placeholder: "aetherium/base" })}
          <label className="field">
            Backend
            <select
              name="backend"
              value={backend}
              onChange={set("backend")}
              aria-describedby={backends.note ? "backend-note" : undefined}
            >
              {backends.choices.map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                </option>
              ))}
            </select>
            {backends.note && (
              <span className="field-hint" id="backend-note" data-backend-note>
                {backends.note}
              </span>
            )}
          </label>
          {field("timeoutMin", "Timeout", {
            placeholder: "minutes",
            inputMode: "numeric",
            hint: "minutes until it is deleted",
          })}
          {field("vcpus", "vCPUs", { placeholder: "1", inputMode: "numeric" })}
          {field("memoryMb", "Memory (MiB)", { placeholder: "512", inputMode: "numeric" })}
          {field("diskMb", "Disk (MiB)", { inputMode: "numeric" })}
          {field("labels", "Labels", { placeholder: "team=ml, env=dev", wide: true })}
          <label className="field">
            Network
            <select name="egress" value={form.egress} onChange={set("egress")}>
              <option value="">Internet (allow-all)</option>
              <option value="deny-all">No network (deny-all)</option>
              <option value="allow-list">Only these destinations</option>
            </select>
          </label>
          {form.egress === "allow-list" &&
            field("allow", "Allowed destinations", {
              placeholder: "registry.npmjs.org *.github.com 10.0.0.0/8",
              hint: "names, *.wildcards, IPs, CIDRs",
            })}
          <label className="field wide">
            <span>
              Environment{" "}
              <span className="field-hint">
                KEY=value, one per line; values are hidden afterwards
              </span>
            </span>
            <textarea
              name="env"
              rows={3}
              value={form.env}
              onChange={set("env")}
              aria-invalid={errors.env ? true : undefined}
            />
            {errors.env && <span className="field-error">{errors.env}</span>}
          </label>
        </div>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={openAfter}
            onChange={(e) => setOpenAfter(e.target.checked)}
          />
          Open the sandbox after creating it
        </label>
        <CreateFormFoot
          serverError={serverError}
          busy={busy}
          submitLabel="Create sandbox"
          onCancel={onClose}
        />
      </form>
    </Dialog>
  );
}
