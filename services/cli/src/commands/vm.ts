/**
 * `aether vm …`: create, list, show, stop, start, pause, resume and remove sandboxes.
 * @module
 */
import type { CreateVmBody, DomainEvent, EventData, Vm, VmStatus } from "@aetherium/types";
import { vmStatusSchema } from "@aetherium/types";
import type { Context } from "../context.js";
import { StatusLine } from "../format/progress.js";
import { vmDetails, vmTable } from "../format/vm.js";
import {
  UsageError,
  parseDurationSec,
  parseKeyValues,
  parsePositiveInt,
  parseSizeMb,
} from "../parse.js";

/** Flags of `aether vm create`. */
export interface VmCreateFlags {
  readonly name?: string;
  readonly image?: string;
  readonly cpus?: string;
  readonly memory?: string;
  readonly disk?: string;
  readonly env?: string[];
  readonly label?: string[];
  readonly timeout?: string;
  readonly tool?: string[];
  readonly backend?: string;
  readonly zone?: string;
  /** `allow-all` or `deny-all`. */
  readonly egress?: string;
  /** Allow-list entries; any makes the policy an allow-list. */
  readonly allow?: string[];
  /** `--no-wait` sets this false. */
  readonly wait?: boolean;
}

/** The request body `aether vm create` sends for its flags. */
export function createBody(flags: VmCreateFlags): CreateVmBody {
  const body: Record<string, unknown> = {};
  if (flags.name) body.name = flags.name;
  if (flags.image) body.image = flags.image;
  // Which backends are worth naming depends on the fleet: see checkBackendOffered.
  if (flags.backend) body.backend = flags.backend;
  if (flags.zone) body.zone = flags.zone;
  if (flags.cpus) body.vcpus = parsePositiveInt(flags.cpus, "--cpus");
  if (flags.memory) body.memoryMb = parseSizeMb(flags.memory, "--memory");
  if (flags.disk) body.diskMb = parseSizeMb(flags.disk, "--disk");
  if (flags.env?.length) body.env = parseKeyValues(flags.env, "--env");
  if (flags.label?.length) body.labels = parseKeyValues(flags.label, "--label");
  if (flags.timeout) body.timeoutSec = Math.ceil(parseDurationSec(flags.timeout, "--timeout"));
  if (flags.tool?.length) body.tools = flags.tool;
  if (flags.allow?.length) {
    if (flags.egress) throw new UsageError("--allow makes an allow-list: leave out --egress");
    body.network = { egress: { allow: flags.allow } };
  } else if (flags.egress) {
    if (flags.egress !== "allow-all" && flags.egress !== "deny-all") {
      throw new UsageError(
        `--egress "${flags.egress}" must be allow-all or deny-all (or give --allow <host>)`,
      );
    }
    body.network = { egress: flags.egress };
  }
  return body;
}

/**
 * Refuses, as a usage error, a `--backend` no active worker offers now, naming those that are
 * offered: the fleet decides what can run, not a list built into this command.
 */
export async function checkBackendOffered(ctx: Context, backend: string): Promise<void> {
  const { backends } = await ctx.client.backends.list();
  const offered = backends.filter((b) => b.offered).map((b) => b.backend);
  if ((offered as string[]).includes(backend)) return;
  throw new UsageError(
    offered.length
      ? `--backend "${backend}": the fleet offers ${offered.join(", ")}`
      : `--backend "${backend}": no active worker offers a backend now; leave out --backend to wait for one`,
  );
}

/** How long `vm create` waits for a sandbox with tools: as long as its create task may take. */
const TOOLS_WAIT_MS = 20 * 60_000;

/**
 * `aether vm create`: creates a sandbox and, unless `--no-wait`, shows its states until it runs,
 * and with `--tool` each tool's progress as the worker installs it (from the `vm.tool` events).
 */
export async function vmCreate(ctx: Context, flags: VmCreateFlags): Promise<number> {
  const body = createBody(flags);
  if (flags.backend) await checkBackendOffered(ctx, flags.backend);
  const started = Date.now();
  const withTools = (body.tools?.length ?? 0) > 0 && flags.wait !== false;
  const progress = withTools ? await followTools(ctx) : undefined;
  let sandbox: Awaited<ReturnType<typeof ctx.client.vms.create>>;
  try {
    sandbox = await ctx.client.vms.create(body);
  } catch (err) {
    progress?.close();
    throw err;
  }
  if (flags.wait === false) {
    ctx.output({ vm: sandbox.vm, taskId: sandbox.taskId }, () =>
      [
        `sandbox ${sandbox.name} is ${sandbox.status} (task ${sandbox.taskId ?? "-"})`,
        `id    ${sandbox.id}`,
        `name  ${sandbox.name}`,
      ].join("\n"),
    );
    return 0;
  }
  const line = new StatusLine(ctx.io.stderr, { quiet: ctx.json });
  line.update(`${sandbox.name}: ${sandbox.status}`);
  progress?.show(sandbox.id, (event) => {
    const text = toolProgressText(event);
    if (text.final) {
      line.stop();
      if (!ctx.json) ctx.io.stderr.write(`${text.text}\n`);
    } else {
      line.update(`${sandbox.name}: ${text.text}`);
    }
  });
  let vm: Vm;
  try {
    vm = await sandbox.waitUntil("running", {
      intervalMs: 200,
      ...(withTools ? { timeoutMs: TOOLS_WAIT_MS } : {}),
      onStatus: (v) =>
        line.update(`${v.name}: ${v.status}${v.pendingReason ? ` (${v.pendingReason})` : ""}`),
    });
  } finally {
    line.stop();
    progress?.close();
  }
  const sec = ((Date.now() - started) / 1000).toFixed(1);
  ctx.output({ vm }, () =>
    [`sandbox ${vm.name} is running (${sec} s)`, `id    ${vm.id}`, `name  ${vm.name}`].join("\n"),
  );
  return 0;
}

type ToolEvent = EventData<"vm.tool">;

/**
 * Follows `vm.tool` events from before the create is sent (so the first steps are not missed),
 * keeping those that arrive before the sandbox's id is known until {@link show} names it.
 */
async function followTools(ctx: Context): Promise<{
  show(vmId: string, onEvent: (event: ToolEvent) => void): void;
  close(): void;
}> {
  const early: ToolEvent[] = [];
  let target: { vmId: string; onEvent: (event: ToolEvent) => void } | undefined;
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const subscription = ctx.client.events.subscribe(
    { topics: ["vm.tool"] },
    (event: DomainEvent) => {
      if (event.type !== "vm.tool") return;
      const data = event.data;
      if (!target) early.push(data);
      else if (data.vmId === target.vmId) target.onEvent(data);
    },
    // Progress is a nicety: without the stream the create still waits for the sandbox.
    { onOpen: () => opened(), onError: () => opened() },
  );
  await Promise.race([open, new Promise((resolve) => setTimeout(resolve, 3000))]);
  return {
    show(vmId, onEvent) {
      target = { vmId, onEvent };
      for (const data of early.splice(0)) if (data.vmId === vmId) onEvent(data);
    },
    close: () => subscription.close(),
  };
}

/** One tool step as the CLI shows it; `final` lines stay, the others are the status line. */
function toolProgressText(event: ToolEvent): { text: string; final: boolean } {
  const took =
    event.durationMs === undefined ? "" : ` in ${(event.durationMs / 1000).toFixed(1)} s`;
  switch (event.phase) {
    case "started":
      return { text: `installing ${event.spec}`, final: false };
    case "output": {
      const last = (event.output ?? "").trim().split("\n").pop() ?? "";
      return { text: `${event.spec}: ${last.slice(0, 100)}`, final: false };
    }
    case "succeeded":
      return { text: `tool ${event.spec}: installed ${event.version ?? ""}${took}`, final: true };
    case "skipped":
      return {
        text: `tool ${event.spec}: already installed (${event.version ?? ""})`,
        final: true,
      };
    case "failed":
      return { text: `tool ${event.spec}: failed${took}`, final: true };
  }
}

/** Flags of `aether vm ls`. */
export interface VmListFlags {
  readonly status?: string[];
  readonly label?: string[];
  readonly all?: boolean;
}

/** `aether vm ls`: every sandbox (deleted ones only with `--all` or `--status deleted`). */
export async function vmList(ctx: Context, flags: VmListFlags): Promise<number> {
  const status = (flags.status ?? []).flatMap((s) => s.split(",")).filter(Boolean);
  for (const s of status) {
    if (!vmStatusSchema.safeParse(s).success) {
      throw new UsageError(`--status "${s}" must be one of ${vmStatusSchema.options.join(", ")}`);
    }
  }
  const labels = parseKeyValues(flags.label, "--label");
  // The gateway leaves deleted sandboxes out unless a status filter names `deleted`: `--all`
  // asks for every status.
  const wanted = status.length ? status : flags.all ? [...vmStatusSchema.options] : [];
  const vms: Vm[] = [];
  for await (const vm of ctx.client.vms.iterate({
    limit: 500,
    ...(wanted.length ? { status: wanted as VmStatus[] } : {}),
    ...(Object.keys(labels).length ? { labels } : {}),
  })) {
    vms.push(vm);
  }
  ctx.output({ items: vms }, () =>
    vms.length ? vmTable(vms) : "no sandboxes; create one with `aether vm create`",
  );
  return 0;
}

/** `aether vm get <id|name>`. */
export async function vmGet(ctx: Context, ref: string): Promise<number> {
  const sandbox = await ctx.sandbox(ref);
  ctx.output({ vm: sandbox.vm }, () => vmDetails(sandbox.vm));
  return 0;
}

/** `aether vm rm <id|name…>`: deletes each, waiting until gone unless `--no-wait`. */
export async function vmRemove(
  ctx: Context,
  refs: readonly string[],
  flags: { wait?: boolean },
): Promise<number> {
  const results: { id: string; name: string; taskId: string | null }[] = [];
  for (const ref of refs) {
    const sandbox = await ctx.sandbox(ref);
    const { taskId } = await sandbox.delete({ wait: flags.wait !== false });
    results.push({ id: sandbox.id, name: sandbox.name, taskId });
    ctx.print(
      flags.wait === false
        ? `deleting ${sandbox.name} (${sandbox.id})`
        : `deleted ${sandbox.name} (${sandbox.id})`,
    );
  }
  if (ctx.json) ctx.printJson({ deleted: results });
  return 0;
}

/** `aether vm stop|start|pause|resume <id|name>`: waits for the new state unless `--no-wait`. */
export async function vmStopStart(
  ctx: Context,
  action: "stop" | "start" | "pause" | "resume",
  ref: string,
  flags: { wait?: boolean; force?: boolean },
): Promise<number> {
  const sandbox = await ctx.sandbox(ref);
  const wait = flags.wait !== false;
  const result =
    action === "stop"
      ? await sandbox.stop({ wait, ...(flags.force ? { force: true } : {}) })
      : await sandbox[action]({ wait });
  const doing = { stop: "stopping", start: "starting", pause: "pausing", resume: "resuming" };
  ctx.output({ vm: sandbox.vm, taskId: result.taskId }, () =>
    wait
      ? `${sandbox.name} is ${sandbox.status}`
      : `${doing[action]} ${sandbox.name} (task ${result.taskId ?? "-"})`,
  );
  return 0;
}
