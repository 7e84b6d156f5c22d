/**
 * `aether ws create|ls|get|rm`: workspaces, made from an environment; `create` shows the
 * preparation steps as they run.
 * @module
 */
import { NotFoundError, WorkspaceError } from "@aetherium/sdk";
import type { PrepStep, Workspace } from "@aetherium/types";
import type { Context } from "../context.js";
import { StatusLine } from "../format/progress.js";
import { age, table } from "../format/table.js";
import { UsageError, parseDurationSec } from "../parse.js";
import { readSecretValues } from "./secret-input.js";

/** Flags of `aether ws create`. */
export interface WsCreateFlags {
  readonly env: string;
  readonly description?: string;
  /** Commander's `--no-wait`: `false` answers at once. */
  readonly wait?: boolean;
  readonly timeout?: string;
  /** Names of secrets to give the workspace; their values are read from stdin or a hidden prompt. */
  readonly secret?: string[];
}

const seconds = (ms: number | null) => (ms === null ? "" : ` (${(ms / 1000).toFixed(1)} s)`);

/** A step's line once it ended: `✓ clone (1.2 s)`. */
function stepLine(s: PrepStep): string {
  const mark = s.status === "succeeded" ? "✓" : s.status === "failed" ? "✗" : "-";
  return `${mark} ${s.name}${s.status === "skipped" ? " (skipped)" : seconds(s.durationMs)}`;
}

/** The failed step's output, indented, at most its last 40 lines. */
function failedOutput(s: PrepStep): string {
  const lines = `${s.output}${s.error ? `\n${s.error}` : ""}`.trimEnd().split("\n");
  const tail = lines.length > 40 ? ["…", ...lines.slice(-40)] : lines;
  return tail.map((l) => `    ${l}`).join("\n");
}

/**
 * Prints each step once it ends (and its output when it failed), with a status line for the
 * step running now: the progress of `ws create`.
 */
export function stepPrinter(ctx: Context, line: StatusLine): (w: Workspace) => void {
  const printed = new Set<string>();
  return (w) => {
    const steps = [...w.prepSteps].sort((a, b) => a.order - b.order);
    for (const s of steps) {
      if (printed.has(s.id) || s.status === "pending" || s.status === "running") continue;
      printed.add(s.id);
      line.stop();
      ctx.note(stepLine(s));
      if (s.status === "failed") ctx.note(failedOutput(s));
    }
    const running = steps.find((s) => s.status === "running");
    if (running) line.update(`${w.name}: ${running.name}…`);
    else if (w.status === "creating" || w.status === "preparing")
      line.update(`${w.name}: ${w.status}`);
  };
}

/** `aether ws create <name> --env <environment>`. */
export async function wsCreate(ctx: Context, name: string, flags: WsCreateFlags): Promise<number> {
  const started = Date.now();
  const names = flags.secret ?? [];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`--secret ${dup} is given twice`);
  const values = names.length ? await readSecretValues(ctx, names) : [];
  const body = {
    name,
    environment: flags.env,
    ...(flags.description ? { description: flags.description } : {}),
    ...(names.length ? { secrets: names.map((n, i) => ({ name: n, value: values[i]! })) } : {}),
  };
  if (flags.wait === false) {
    const w = await ctx.client.workspaces.create(body);
    ctx.output({ workspace: w }, () =>
      [`workspace ${w.name} is ${w.status}`, `id    ${w.id}`].join("\n"),
    );
    return 0;
  }
  const line = new StatusLine(ctx.io.stderr, { quiet: ctx.json });
  line.update(`${name}: creating`);
  let w: Workspace;
  try {
    w = await ctx.client.workspaces.create(body, {
      wait: true,
      onProgress: stepPrinter(ctx, line),
      ...(flags.timeout ? { timeoutMs: parseDurationSec(flags.timeout, "--timeout") * 1000 } : {}),
    });
  } catch (err) {
    line.stop();
    // The steps and the failed one's output are printed already; say which step, exit 1.
    if (!(err instanceof WorkspaceError)) throw err;
    if (ctx.json) ctx.printJson({ workspace: err.workspace });
    ctx.note(`aether: ${err.message}`);
    return 1;
  } finally {
    line.stop();
  }
  const sec = ((Date.now() - started) / 1000).toFixed(1);
  ctx.output({ workspace: w }, () =>
    [
      `workspace ${w.name} is ${w.status} (${sec} s)`,
      `id    ${w.id}`,
      `dir   ${w.workingDirectory}`,
    ].join("\n"),
  );
  return 0;
}

/** The workspace called `ref`: an id, else a name. */
export async function resolveWorkspace(ctx: Context, ref: string): Promise<Workspace> {
  try {
    return await ctx.client.workspaces.get(ref);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const res = await ctx.client.workspaces
      .list({ limit: 200, ...(cursor ? { cursor } : {}) })
      .catch((err: unknown) => {
        // No list route at all: a gateway without workspaces, which has none called `ref` either.
        if (err instanceof NotFoundError) return undefined;
        throw err;
      });
    if (!res) break;
    const hit = res.items.find((w) => w.name === ref);
    if (hit) return hit;
    if (!res.nextCursor) break;
    cursor = res.nextCursor;
  }
  throw new NotFoundError(`no workspace with id or name "${ref}"`, "not_found", 404);
}

/** Environment names by id, to show names instead of ids (ids stay when the list is refused). */
async function environmentNames(ctx: Context): Promise<Map<string, string>> {
  const page = await ctx.client.environments.list({ limit: 200 }).catch(() => undefined);
  return new Map(page?.items.map((e) => [e.id, e.name]) ?? []);
}

/** `aether ws ls`. */
export async function wsList(ctx: Context): Promise<number> {
  const { items } = await ctx.client.workspaces.list({ limit: 200 });
  const envs = items.length ? await environmentNames(ctx) : new Map<string, string>();
  const now = new Date();
  ctx.output({ items }, () =>
    table(
      ["ID", "NAME", "STATUS", "ENVIRONMENT", "AGENT", "STEPS", "LAST ACTIVE", "CREATED"],
      items.map((w) => [
        w.id,
        w.name,
        w.status + (w.failedStep ? ` (${w.failedStep})` : ""),
        w.environmentId ? (envs.get(w.environmentId) ?? w.environmentId) : "-",
        w.agent.type,
        `${w.prepSteps.filter((s) => s.status === "succeeded" || s.status === "skipped").length}/${w.prepSteps.length}`,
        w.idleSince ? `${age(w.idleSince, now)} ago` : "-",
        `${age(w.createdAt, now)} ago`,
      ]),
    ),
  );
  return 0;
}

/** `aether ws get <ws>`: the workspace and each preparation step. */
export async function wsGet(ctx: Context, ref: string): Promise<number> {
  const w = await resolveWorkspace(ctx, ref);
  const envName = w.environmentId ? (await environmentNames(ctx)).get(w.environmentId) : undefined;
  ctx.output({ workspace: w }, () => {
    const rows = [
      `id           ${w.id}`,
      `name         ${w.name}`,
      `status       ${w.status}`,
      `agent        ${w.agent.type}${w.agent.model ? ` (${w.agent.model})` : ""}`,
      `directory    ${w.workingDirectory}`,
      `sandbox      ${w.vmId ?? "-"}`,
      `environment  ${envName ? `${envName} (${w.environmentId})` : (w.environmentId ?? "-")}`,
    ];
    if (w.error) rows.push(`error        ${w.failedStep ? `${w.failedStep}: ` : ""}${w.error}`);
    const steps = [...w.prepSteps].sort((a, b) => a.order - b.order);
    if (steps.length) {
      rows.push("steps");
      for (const s of steps) {
        rows.push(
          `  ${s.status === "pending" || s.status === "running" ? `… ${s.name} (${s.status})` : stepLine(s)}`,
        );
        if (s.status === "failed") rows.push(failedOutput(s));
      }
    }
    return rows.join("\n");
  });
  return 0;
}

/**
 * `aether ws rm <ws...> [--no-wait]`: waits until each is gone (its sandbox removed) unless
 * `--no-wait`.
 */
export async function wsRemove(
  ctx: Context,
  refs: readonly string[],
  flags: { wait?: boolean } = {},
): Promise<number> {
  const deleted: string[] = [];
  const wait = flags.wait !== false;
  for (const ref of refs) {
    const w = await resolveWorkspace(ctx, ref);
    await ctx.client.workspaces.delete(w.id, { wait });
    deleted.push(w.id);
    ctx.note(`${wait ? "deleted" : "deleting"} workspace ${w.name} (${w.id})`);
  }
  if (ctx.json) ctx.printJson({ deleted });
  return 0;
}
