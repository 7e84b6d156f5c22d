/** The create-sandbox form: what people type → the `POST /vms` body, with errors per field. @module */
import { createVmBodySchema, type BackendsResponse, type CreateVmBody } from "@aetherium/types";

/** The form's fields, as strings the inputs hold. */
export interface SandboxFormValues {
  name: string;
  image: string;
  backend: string;
  vcpus: string;
  memoryMb: string;
  diskMb: string;
  /** `KEY=value`, one per line. */
  env: string;
  /** `key=value`, one per line or comma-separated. */
  labels: string;
  /** Minutes until automatic deletion; empty for the server default. */
  timeoutMin: string;
  /** `""` (server default: allow-all), `allow-all`, `deny-all` or `allow-list`. */
  egress: string;
  /** With `allow-list`: destinations, separated by spaces, commas or lines. */
  allow: string;
}

export const EMPTY_SANDBOX_FORM: SandboxFormValues = {
  name: "",
  image: "",
  backend: "",
  vcpus: "",
  memoryMb: "",
  diskMb: "",
  env: "",
  labels: "",
  timeoutMin: "",
  egress: "",
  allow: "",
};

export type FieldErrors = Partial<Record<keyof SandboxFormValues, string>>;

/**
 * Parses `KEY=value` entries (one per line; with `commaSeparated`, commas separate too). Blank
 * lines and `#` comments are skipped; the first `=` splits, so values may contain `=`.
 */
export function parseKeyValues(
  text: string,
  options: { commaSeparated?: boolean } = {},
): { values: Record<string, string> } | { error: string } {
  const values: Record<string, string> = {};
  const parts = text.split(options.commaSeparated ? /[\n,]/ : /\n/);
  for (const raw of parts) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) return { error: `"${line}" is not KEY=value` };
    values[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return { values };
}

function intField(text: string): number | undefined | "bad" {
  const t = text.trim();
  if (t === "") return undefined;
  if (!/^\d+$/.test(t)) return "bad";
  return Number(t);
}

/** Builds the request body; fields left empty are omitted so the server's defaults apply. */
export function buildCreateVmBody(
  form: SandboxFormValues,
): { ok: true; body: CreateVmBody } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const body: Record<string, unknown> = {};
  if (form.name.trim()) body.name = form.name.trim();
  if (form.image.trim()) body.image = form.image.trim();
  if (form.backend) body.backend = form.backend;
  for (const f of ["vcpus", "memoryMb", "diskMb"] as const) {
    const v = intField(form[f]);
    if (v === "bad") errors[f] = "a whole number";
    else if (v !== undefined) body[f] = v;
  }
  const timeout = intField(form.timeoutMin);
  if (timeout === "bad") errors.timeoutMin = "minutes, a whole number";
  else if (timeout !== undefined) body.timeoutSec = timeout * 60;
  const env = parseKeyValues(form.env);
  if ("error" in env) errors.env = env.error;
  else if (Object.keys(env.values).length) body.env = env.values;
  const labels = parseKeyValues(form.labels, { commaSeparated: true });
  if ("error" in labels) errors.labels = labels.error;
  else if (Object.keys(labels.values).length) body.labels = labels.values;
  if (form.egress === "allow-list") {
    const allow = form.allow
      .split(/[\s,]+/)
      .map((t) => t.trim())
      .filter(Boolean);
    // An empty allow-list is valid (nothing is reachable), but more likely a slip.
    if (allow.length === 0) errors.allow = "name at least one destination, or pick deny-all";
    else body.network = { egress: { allow } };
  } else if (form.egress) body.network = { egress: form.egress };
  if (Object.keys(errors).length) return { ok: false, errors };

  const parsed = createVmBodySchema.safeParse(body);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const top = String(issue.path[0] ?? "name");
      const field = (
        top === "timeoutSec" ? "timeoutMin" : top === "network" ? "allow" : top
      ) as keyof SandboxFormValues;
      const where = issue.path.length > 1 ? `${issue.path.slice(1).join(".")}: ` : "";
      errors[field] ??= `${where}${issue.message}`;
    }
    return { ok: false, errors };
  }
  return { ok: true, body: parsed.data };
}

/** One option of the backend select. */
export interface BackendChoice {
  /** `""` sends no backend: the server's default applies. */
  readonly value: string;
  readonly label: string;
}

/**
 * The backend select's options: "auto (default)", which leaves the choice to the server, then
 * only the backends an active worker offers now (a create naming another is refused), with a
 * note under the select. `offer` is undefined while it loads or when it could not be read.
 */
export function backendChoices(offer: BackendsResponse | undefined): {
  choices: BackendChoice[];
  note: string | undefined;
} {
  const offered = (offer?.backends ?? []).filter((b) => b.offered).map((b) => b.backend);
  const choices = [
    { value: "", label: "auto (default)" },
    ...offered.map((b) => ({ value: b, label: b })),
  ];
  if (!offer) return { choices, note: undefined };
  if (offered.length === 0) {
    return { choices, note: "No worker offers a backend now: the sandbox waits for one." };
  }
  return {
    choices,
    note:
      offer.configured === "auto"
        ? `auto picks ${offer.default} now`
        : `the server's default is ${offer.configured}`,
  };
}
