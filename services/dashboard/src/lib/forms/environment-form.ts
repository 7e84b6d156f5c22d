/**
 * The create-environment form: what people type → the `POST /environments` body, with errors per
 * field (the same zod schema the gateway validates with, so the form refuses what the API would).
 * @module
 */
import { createEnvironmentBodySchema, type CreateEnvironmentBody } from "@aetherium/types";
import { parseKeyValues } from "./sandbox-form.js";

/** The form's fields, as strings the inputs hold. */
export interface EnvironmentFormValues {
  name: string;
  description: string;
  /** `claude-code`, `amp` or `custom`. */
  agentType: string;
  /** Required with `custom`; replaces the agent's executable otherwise. */
  agentCommand: string;
  model: string;
  systemPrompt: string;
  repoUrl: string;
  repoBranch: string;
  repoDir: string;
  /** mise specs separated by spaces, commas or lines: `node@20 python@3.12`. */
  tools: string;
  /** `KEY=value`, one per line. */
  env: string;
  /** Secret names separated by spaces, commas or lines. */
  secrets: string;
  /** One shell script, run after the clone and the tools. */
  setup: string;
  image: string;
  vcpus: string;
  memoryMb: string;
  /** Minutes idle before the sandbox is stopped; empty for the server default. */
  idleMin: string;
}

export const EMPTY_ENVIRONMENT_FORM: EnvironmentFormValues = {
  name: "",
  description: "",
  agentType: "claude-code",
  agentCommand: "",
  model: "",
  systemPrompt: "",
  repoUrl: "",
  repoBranch: "",
  repoDir: "",
  tools: "",
  env: "",
  secrets: "",
  setup: "",
  image: "",
  vcpus: "",
  memoryMb: "",
  idleMin: "",
};

export type EnvironmentFieldErrors = Partial<Record<keyof EnvironmentFormValues, string>>;

const words = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter(Boolean);

function intField(text: string): number | undefined | "bad" {
  const t = text.trim();
  if (t === "") return undefined;
  if (!/^\d+$/.test(t)) return "bad";
  return Number(t);
}

/** Which form field a schema issue at `path` belongs to. */
function fieldOf(path: readonly PropertyKey[]): keyof EnvironmentFormValues {
  const [top, sub] = path.map(String);
  switch (top) {
    case "agent":
      return sub === "command"
        ? "agentCommand"
        : sub === "model"
          ? "model"
          : sub === "systemPrompt"
            ? "systemPrompt"
            : "agentType";
    case "repo":
      return sub === "branch" ? "repoBranch" : sub === "dir" ? "repoDir" : "repoUrl";
    case "idleTimeoutSec":
      return "idleMin";
    case "name":
    case "description":
    case "tools":
    case "env":
    case "secrets":
    case "setup":
    case "image":
    case "vcpus":
    case "memoryMb":
      return top;
    default:
      return "name";
  }
}

/** The offending entry of a list or map field (`tools[1]` → `"nod@"`), to name it in the error. */
function listItem(body: Record<string, unknown>, path: readonly PropertyKey[]): string | undefined {
  const [top, key] = path;
  if (top === "tools" || top === "secrets") {
    const list = body[top];
    return Array.isArray(list) && typeof key === "number" ? `"${String(list[key])}"` : undefined;
  }
  if (top === "env" && typeof key === "string") return key;
  return undefined;
}

/** Builds the request body; fields left empty are omitted so the server's defaults apply. */
export function buildCreateEnvironmentBody(
  form: EnvironmentFormValues,
): { ok: true; body: CreateEnvironmentBody } | { ok: false; errors: EnvironmentFieldErrors } {
  const errors: EnvironmentFieldErrors = {};
  const body: Record<string, unknown> = { name: form.name.trim() };
  if (form.description.trim()) body.description = form.description.trim();
  const agent: Record<string, string> = { type: form.agentType };
  if (form.agentCommand.trim()) agent.command = form.agentCommand.trim();
  if (form.model.trim()) agent.model = form.model.trim();
  if (form.systemPrompt.trim()) agent.systemPrompt = form.systemPrompt;
  body.agent = agent;
  if (form.repoUrl.trim()) {
    body.repo = {
      url: form.repoUrl.trim(),
      ...(form.repoBranch.trim() && { branch: form.repoBranch.trim() }),
      ...(form.repoDir.trim() && { dir: form.repoDir.trim() }),
    };
  } else if (form.repoBranch.trim() || form.repoDir.trim()) {
    errors.repoUrl = "give the repository's URL, or clear branch and directory";
  }
  const tools = words(form.tools);
  if (tools.length) body.tools = tools;
  const env = parseKeyValues(form.env);
  if ("error" in env) errors.env = env.error;
  else if (Object.keys(env.values).length) body.env = env.values;
  const secrets = words(form.secrets);
  if (secrets.length) body.secrets = secrets;
  if (form.setup.trim()) body.setup = [{ type: "script", run: form.setup }];
  if (form.image.trim()) body.image = form.image.trim();
  for (const f of ["vcpus", "memoryMb"] as const) {
    const v = intField(form[f]);
    if (v === "bad") errors[f] = "a whole number";
    else if (v !== undefined) body[f] = v;
  }
  const idle = intField(form.idleMin);
  if (idle === "bad") errors.idleMin = "minutes, a whole number";
  else if (idle !== undefined) body.idleTimeoutSec = idle * 60;
  if (Object.keys(errors).length) return { ok: false, errors };

  const parsed = createEnvironmentBodySchema.safeParse(body);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = fieldOf(issue.path);
      const message =
        field === "idleMin"
          ? "between 1 and 1440 minutes"
          : issue.message.replace(/^Invalid.*$/, "not valid");
      const item = issue.path.length > 1 ? listItem(body, issue.path) : undefined;
      const where = item !== undefined ? `${item}: ` : "";
      errors[field] ??= `${where}${message}`;
    }
    return { ok: false, errors };
  }
  return { ok: true, body: parsed.data };
}
