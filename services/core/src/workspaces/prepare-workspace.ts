import { StringDecoder } from "node:string_decoder";
import {
  createSecretRedactor,
  createStreamRedactor,
  type EventBus,
  type Logger,
  type SecretRedactor,
} from "@aetherium/common";
import {
  createEvent,
  workspaceEventTypeForStatus,
  type DomainEvent,
  type Environment,
  type SetupStep,
  type WorkspaceStatus,
} from "@aetherium/types";
import { sql, type Kysely } from "kysely";
import type { SecretService } from "../domain/secret-service.js";
import type { VmService } from "../domain/vm-service.js";
import { AGENT_HOME, AGENT_PATH, AGENT_USER } from "../prompts/agent-adapters.js";
import type { AgentProcessStarter } from "../prompts/prompt-runner.js";
import type { Database } from "../storage/database.js";
import type { Repositories } from "../storage/repositories/create-repositories.js";
import { MCP_CONFIG_FILES, mcpEntries, mcpWriteProgram } from "./mcp-config.js";
import { planSteps } from "./prep-plan.js";
import { sandboxBodyOf } from "./workspace-sandbox.js";
import {
  metadataOf,
  specOf,
  toPrepStep,
  WorkspaceRecords,
  type PrepStepRow,
  type WorkspaceRow,
} from "./workspace-records.js";

/** Bytes of a step's output its record keeps (the end of it: where a failure shows). */
export const STEP_OUTPUT_LIMIT_BYTES = 64 * 1024;

/** How often a running step's output so far is stored and published. */
const PROGRESS_MS = 500;

/** What installing one tool came to. */
export interface ToolStepResult {
  readonly status: "succeeded" | "skipped" | "failed";
  readonly output: string;
  readonly error?: string;
}

/** Installs one tool (a mise spec) in a sandbox as its user; see the `tools` module. */
export type WorkspaceToolInstaller = (
  sandboxId: string,
  spec: string,
  options: {
    readonly env: Readonly<Record<string, string>>;
    readonly signal: AbortSignal;
    readonly onOutput: (text: string) => void;
  },
) => Promise<ToolStepResult>;

/** What the worker gives preparation: its sandboxes and processes in them. */
export interface WorkspaceSandboxHost extends AgentProcessStarter {
  /** The worker this runs on. */
  readonly workerId: string;
  /** Builds and boots the recorded (pending) sandbox on this worker, claiming it. */
  create(sandboxId: string, signal: AbortSignal): Promise<void>;
  /** Removes a sandbox of this worker; removing a removed one is a no-op. */
  delete(sandboxId: string): Promise<void>;
}

/** Everything preparation and deletion need. */
export interface WorkspaceJobDeps {
  readonly db: Kysely<Database>;
  readonly repos: Repositories;
  readonly bus: EventBus;
  readonly secrets: SecretService;
  readonly vms: VmService;
  readonly host: WorkspaceSandboxHost;
  readonly installTool?: WorkspaceToolInstaller;
  readonly logger: Logger;
}

/** A step's outcome before it is recorded. */
interface StepOutcome {
  readonly ok: boolean;
  readonly exitCode: number | null;
  readonly error?: string;
}

/**
 * The `workspace:create` job: builds the workspace's sandbox on this worker, then runs its
 * recorded preparation steps in order (clone, tools, setup, MCP config), each stored with
 * status, output (redacted, bounded), exit code and duration and published as `workspace.step`
 * events. A failing step ends the workspace `failed` naming it; later steps are `skipped`.
 *
 * Safe to run again after a crash: a finished workspace is left alone, steps that succeeded are
 * not run again (a step cut off while running is), and a sandbox is reused when it is here,
 * or replaced (the old one deleted) when it was left elsewhere, so none is orphaned.
 */
export async function prepareWorkspace(
  deps: WorkspaceJobDeps,
  workspaceId: string,
  signal: AbortSignal,
): Promise<{ workspaceId: string; status: string; vmId?: string | null }> {
  const records = new WorkspaceRecords(deps.db);
  let row = await records.byId(workspaceId);
  if (!row) return { workspaceId, status: "deleted" };
  if (!["creating", "preparing"].includes(row.status) || metadataOf(row).deleteTaskId) {
    return { workspaceId, status: row.status, vmId: row.vmId };
  }
  const spec = specOf(row);
  const publish = async (r: WorkspaceRow, previous: WorkspaceStatus | null) => {
    const workspace = await records.one(r);
    await deps.bus
      .publish(
        // The type follows the status reached, so TypeScript cannot pin it to one member.
        createEvent(workspaceEventTypeForStatus(workspace.status), {
          workspace,
          previousStatus: previous,
        }) as DomainEvent,
      )
      .catch((err: unknown) => deps.logger.warn({ err, workspaceId }, "could not publish"));
  };
  const fail = async (failedStep: string, error: string) => {
    const failed = await deps.db
      .updateTable("workspaces")
      .set({ status: "failed", failedStep, error })
      .where("id", "=", workspaceId)
      .where("status", "in", ["creating", "preparing"])
      .returningAll()
      .executeTakeFirst();
    if (failed) await publish(failed, row?.status as WorkspaceStatus);
    return { workspaceId, status: "failed", vmId: failed?.vmId ?? null };
  };

  // 1. The sandbox, here.
  let vmId: string;
  try {
    vmId = await sandboxHere(deps, row, spec, signal);
    await ownedDir(deps.host, vmId, row.workingDirectory, signal);
  } catch (err) {
    if (signal.aborted || isHandBack(err)) throw err;
    return fail("sandbox", `its sandbox could not be made: ${(err as Error).message}`);
  }
  row = (await records.byId(workspaceId)) ?? row;

  // 2. The steps, recorded once.
  const steps = await recordedSteps(deps.db, workspaceId, spec);
  const preparing = await deps.db
    .updateTable("workspaces")
    .set({ status: "preparing" })
    .where("id", "=", workspaceId)
    .where("status", "=", "creating")
    .returningAll()
    .executeTakeFirst();
  if (preparing) await publish(preparing, "creating");

  const secrets = await deps.secrets.values(row.tenant, workspaceId, "workspace preparation");
  const redactor = createSecretRedactor(Object.values(secrets));
  const plainEnv: Record<string, string> = { ...spec.env, ...metadataOf(row).env };
  const workDir = row.workingDirectory;

  for (const [i, step] of steps.entries()) {
    if (step.status === "succeeded" || step.status === "skipped") continue;
    signal.throwIfAborted();
    const run = new StepRun(deps, workspaceId, step, redactor);
    await run.begin();
    const env = {
      ...plainEnv,
      ...secrets,
      HOME: AGENT_HOME,
      USER: AGENT_USER,
      PATH: AGENT_PATH,
    };
    let outcome: StepOutcome;
    try {
      outcome = await runStep(deps, vmId, spec, step, { env, workDir, signal, run, plainEnv });
    } catch (err) {
      if (signal.aborted) {
        await run.end({ ok: false, exitCode: null, error: "stopped: preparation was cancelled" });
        throw err;
      }
      outcome = { ok: false, exitCode: null, error: (err as Error).message };
    }
    const done = await run.end(outcome);
    if (!outcome.ok) {
      for (const later of steps.slice(i + 1)) await skip(deps, workspaceId, later);
      return fail(step.name, done.error ?? `${step.name} failed`);
    }
    if (step.stepType === "env") {
      const { name, value } = step.config as { name: string; value: string };
      plainEnv[name] = value;
      await deps.db
        .updateTable("workspaces")
        .set({
          metadata: sql`jsonb_set(metadata, '{env}', coalesce(metadata->'env', '{}'::jsonb) || ${JSON.stringify({ [name]: value })}::jsonb)`,
        })
        .where("id", "=", workspaceId)
        .execute();
    }
  }

  const ready = await deps.db
    .updateTable("workspaces")
    .set({ status: "ready", readyAt: sql<Date>`now()`, idleSince: sql<Date>`now()`, error: null })
    .where("id", "=", workspaceId)
    .where("status", "in", ["creating", "preparing"])
    .returningAll()
    .executeTakeFirst();
  if (ready) await publish(ready, "preparing");
  return { workspaceId, status: ready?.status ?? "deleted", vmId };
}

function isHandBack(err: unknown): boolean {
  return (err as Error | undefined)?.name === "HandBackError";
}

/**
 * Makes sure the workspace's sandbox runs on this worker and returns its id: a pending one is
 * built here; one left on another worker, or failed, by an earlier attempt is deleted and a new
 * one recorded and built here (its steps start over: they ran in the old one).
 */
async function sandboxHere(
  deps: WorkspaceJobDeps,
  row: WorkspaceRow,
  spec: Environment,
  signal: AbortSignal,
): Promise<string> {
  const vm = row.vmId ? await deps.repos.vms.get(row.vmId) : undefined;
  const here = vm && (vm.workerId === null || vm.workerId === deps.host.workerId);
  if (vm && here && ["pending", "creating", "running"].includes(vm.status)) {
    if (vm.status !== "running") await deps.host.create(vm.id, signal);
    return vm.id;
  }
  if (vm && vm.status !== "deleted") await deps.vms.delete(vm.id).catch(() => undefined);
  const { vm: fresh } = await deps.vms.record(sandboxBodyOf(spec, row.id));
  await deps.db
    .updateTable("workspaces")
    .set({ vmId: fresh.id })
    .where("id", "=", row.id)
    .execute();
  await deps.db.deleteFrom("workspacePrepSteps").where("workspaceId", "=", row.id).execute();
  await deps.host.create(fresh.id, signal);
  return fresh.id;
}

/** The workspace's steps: recorded (pending) on the first run, read back on a retry. */
async function recordedSteps(
  db: Kysely<Database>,
  workspaceId: string,
  spec: Environment,
): Promise<PrepStepRow[]> {
  const read = () =>
    db
      .selectFrom("workspacePrepSteps")
      .selectAll()
      .where("workspaceId", "=", workspaceId)
      .orderBy("stepOrder")
      .execute();
  const existing = await read();
  if (existing.length > 0) return existing;
  const plan = planSteps(spec);
  if (plan.length === 0) return [];
  await db
    .insertInto("workspacePrepSteps")
    .values(
      plan.map((p, i) => ({
        workspaceId,
        stepType: p.type,
        name: p.name,
        stepOrder: i + 1,
        config: JSON.stringify(p.config),
      })),
    )
    .execute();
  return read();
}

async function skip(deps: WorkspaceJobDeps, workspaceId: string, step: PrepStepRow) {
  const row = await deps.db
    .updateTable("workspacePrepSteps")
    .set({ status: "skipped" })
    .where("id", "=", step.id)
    .where("status", "in", ["pending", "running"])
    .returningAll()
    .executeTakeFirst();
  if (row) {
    await deps.bus
      .publish(createEvent("workspace.step", { workspaceId, step: toPrepStep(row) }))
      .catch(() => undefined);
  }
}

/** One step while it runs: its output redacted and kept (the last bytes), stored and published. */
class StepRun {
  #parts: string[] = [];
  #bytes = 0;
  #cut = 0;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #t0 = 0;
  readonly #stream;

  constructor(
    private readonly deps: WorkspaceJobDeps,
    private readonly workspaceId: string,
    private readonly step: PrepStepRow,
    private readonly redactor: SecretRedactor,
  ) {
    this.#stream = createStreamRedactor(redactor);
  }

  async begin(): Promise<void> {
    this.#t0 = performance.now();
    await this.#write({
      status: "running",
      startedAt: sql<Date>`now()`,
      completedAt: null,
      exitCode: null,
      error: null,
      stdout: "",
      durationMs: null,
    });
    this.#timer = setInterval(() => {
      if (!this.#dirty) return;
      this.#dirty = false;
      void this.#write({ stdout: this.text }).catch(() => undefined);
    }, PROGRESS_MS);
    this.#timer.unref();
  }

  /** Takes raw output; what is shown and kept is redacted. */
  push(text: string): void {
    this.#keep(this.#stream.push(text));
  }

  get text(): string {
    const body = this.#parts.join("");
    return this.#cut > 0 ? `[… ${this.#cut} earlier bytes not kept …]\n${body}` : body;
  }

  async end(outcome: StepOutcome): Promise<{ error: string | null }> {
    clearInterval(this.#timer);
    this.#keep(this.#stream.flush());
    const output = this.text;
    let error: string | null = null;
    if (!outcome.ok) {
      const why =
        outcome.error ??
        (outcome.exitCode === null ? "was killed" : `exited with code ${outcome.exitCode}`);
      const tail = output.slice(-4000).trim();
      error = this.redactor.redact(`${this.step.name} ${why}${tail ? `:\n${tail}` : ""}`);
    }
    await this.#write({
      status: outcome.ok ? "succeeded" : "failed",
      exitCode: outcome.exitCode,
      stdout: output,
      error,
      completedAt: sql<Date>`now()`,
      durationMs: Math.max(0, Math.round(performance.now() - this.#t0)),
    });
    return { error };
  }

  #keep(text: string): void {
    if (text === "") return;
    this.#dirty = true;
    this.#parts.push(text);
    this.#bytes += Buffer.byteLength(text);
    while (this.#bytes > STEP_OUTPUT_LIMIT_BYTES && this.#parts.length > 1) {
      const first = this.#parts.shift() ?? "";
      const size = Buffer.byteLength(first);
      this.#bytes -= size;
      this.#cut += size;
    }
  }

  async #write(values: Record<string, unknown>): Promise<void> {
    const row = await this.deps.db
      .updateTable("workspacePrepSteps")
      .set(values)
      .where("id", "=", this.step.id)
      .returningAll()
      .executeTakeFirst();
    if (row) {
      await this.deps.bus
        .publish(
          createEvent("workspace.step", { workspaceId: this.workspaceId, step: toPrepStep(row) }),
        )
        .catch(() => undefined);
    }
  }
}

interface StepContext {
  readonly env: Record<string, string>;
  readonly plainEnv: Readonly<Record<string, string>>;
  readonly workDir: string;
  readonly signal: AbortSignal;
  readonly run: StepRun;
}

async function runStep(
  deps: WorkspaceJobDeps,
  vmId: string,
  spec: Environment,
  step: PrepStepRow,
  ctx: StepContext,
): Promise<StepOutcome> {
  switch (step.stepType) {
    case "clone":
      return clone(deps, vmId, spec, ctx);
    case "tool": {
      if (!deps.installTool) {
        return { ok: false, exitCode: null, error: "cannot run: this worker installs no tools" };
      }
      const toolSpec = (step.config as { spec: string }).spec;
      const result = await deps.installTool(vmId, toolSpec, {
        env: ctx.env,
        signal: ctx.signal,
        onOutput: (t) => ctx.run.push(t),
      });
      return {
        ok: result.status !== "failed",
        exitCode: result.status === "failed" ? 1 : 0,
        ...(result.error ? { error: result.error } : {}),
      };
    }
    case "script": {
      const { run } = step.config as Extract<SetupStep, { type: "script" }>;
      return shell(deps, vmId, run, { ...ctx, user: AGENT_USER, cwd: ctx.workDir });
    }
    case "env": {
      const { name } = step.config as Extract<SetupStep, { type: "env" }>;
      ctx.run.push(`${name} is set for later steps and prompts\n`);
      return { ok: true, exitCode: 0 };
    }
    case "mcp": {
      const file = MCP_CONFIG_FILES[spec.agent.type];
      const entries = mcpEntries(spec.agent.type, spec.mcpServers ?? [], ctx.plainEnv);
      return shell(deps, vmId, `exec python3 -c "$AETHER_MCP_PROGRAM" "$1" "$2"`, {
        ...ctx,
        env: {
          HOME: AGENT_HOME,
          PATH: AGENT_PATH,
          AETHER_MCP_PROGRAM: mcpWriteProgram(),
          AETHER_MCP_JSON: JSON.stringify(entries),
        },
        args: [file.path, file.key],
        user: AGENT_USER,
        cwd: AGENT_HOME,
      });
    }
    default:
      return { ok: false, exitCode: null, error: `unknown step type ${step.stepType}` };
  }
}

/**
 * Clones `repo.url` at `repo.branch` into `repo.dir` as the sandbox's user. A token secret goes
 * to git through a one-shot credential helper given on the command line (`git -c`, never saved
 * in the clone's config) that reads it from the process environment: no file ever holds it. A
 * clone left by an interrupted attempt is kept when complete, started afresh otherwise.
 */
async function clone(
  deps: WorkspaceJobDeps,
  vmId: string,
  spec: Environment,
  ctx: StepContext,
): Promise<StepOutcome> {
  const repo = spec.repo;
  if (!repo) return { ok: true, exitCode: 0 };
  const token = repo.tokenSecret ? ctx.env[repo.tokenSecret] : undefined;
  if (repo.tokenSecret && token === undefined) {
    return {
      ok: false,
      exitCode: null,
      error: `cannot run: the secret ${repo.tokenSecret} (repo.tokenSecret) is not set`,
    };
  }
  const script = [
    "set -eu",
    'd="$AETHER_REPO_DIR"',
    'if [ "$(git -C "$d" rev-parse --show-toplevel 2>/dev/null)" = "$d" ] && git -C "$d" rev-parse -q --verify HEAD >/dev/null; then',
    '  echo "already cloned: $(git -C "$d" log -1 --oneline)"; exit 0',
    "fi",
    'find "$d" -mindepth 1 -maxdepth 1 -exec rm -rf {} +',
    "set -- clone --progress",
    'if [ -n "${AETHER_REPO_BRANCH:-}" ]; then set -- "$@" --branch "$AETHER_REPO_BRANCH"; fi',
    'if [ -n "${AETHER_GIT_TOKEN:-}" ]; then',
    `  git -c credential.helper= -c 'credential.helper=!f() { test "$1" = get || exit 0; echo username=x-access-token; echo "password=$AETHER_GIT_TOKEN"; }; f' "$@" -- "$AETHER_REPO_URL" "$d"`,
    "else",
    '  git "$@" -- "$AETHER_REPO_URL" "$d"',
    "fi",
    'echo "cloned: $(git -C "$d" log -1 --oneline)"',
  ].join("\n");
  const dir = repo.dir ?? ctx.workDir;
  return shell(deps, vmId, script, {
    ...ctx,
    env: {
      HOME: AGENT_HOME,
      PATH: AGENT_PATH,
      GIT_TERMINAL_PROMPT: "0",
      AETHER_REPO_URL: repo.url,
      AETHER_REPO_DIR: dir,
      ...(repo.branch ? { AETHER_REPO_BRANCH: repo.branch } : {}),
      ...(token !== undefined ? { AETHER_GIT_TOKEN: token } : {}),
    },
    user: AGENT_USER,
    cwd: "/",
  });
}

/** Creates `dir` owned by the sandbox's user (as root), so steps and the agent can write there. */
async function ownedDir(
  host: WorkspaceSandboxHost,
  vmId: string,
  dir: string,
  signal: AbortSignal,
): Promise<void> {
  let out = "";
  const proc = await host.start(
    vmId,
    {
      command: "/bin/sh",
      args: ["-c", `mkdir -p "$1" && chown ${AGENT_USER}:${AGENT_USER} "$1"`, "sh", dir],
      env: { PATH: AGENT_PATH },
      cwd: "/",
      user: "root",
      stdin: "",
    },
    { onStdout: (b) => (out += b.toString()), onStderr: (b) => (out += b.toString()) },
  );
  const r = await proc.done;
  signal.throwIfAborted();
  if (r.exitCode !== 0) throw new Error(`could not create ${dir}: ${out.trim()}`);
}

/** Runs a shell script in the sandbox, its output into the step; aborting kills it. */
async function shell(
  deps: WorkspaceJobDeps,
  vmId: string,
  script: string,
  o: StepContext & { user: string; cwd: string; args?: readonly string[] },
): Promise<StepOutcome> {
  const decoders = [new StringDecoder("utf8"), new StringDecoder("utf8")] as const;
  const proc = await deps.host.start(
    vmId,
    {
      command: "/bin/sh",
      args: ["-c", script, "sh", ...(o.args ?? [])],
      env: o.env,
      cwd: o.cwd,
      user: o.user,
      stdin: "",
    },
    {
      onStdout: (b) => o.run.push(decoders[0].write(b)),
      onStderr: (b) => o.run.push(decoders[1].write(b)),
    },
  );
  const onAbort = () => void proc.kill().catch(() => undefined);
  o.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const r = await proc.done;
    o.run.push(decoders[0].end() + decoders[1].end());
    return { ok: r.exitCode === 0, exitCode: r.exitCode };
  } finally {
    o.signal.removeEventListener("abort", onAbort);
  }
}
