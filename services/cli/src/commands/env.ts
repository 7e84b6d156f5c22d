/**
 * `aether env create|ls|get|rm`: environments (workspace templates).
 * @module
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { CreateEnvironmentRequest } from "@aetherium/sdk";
import { parse as parseYaml } from "yaml";
import type { Environment } from "@aetherium/types";
import type { Context } from "../context.js";
import { age, table } from "../format/table.js";
import {
  parseDurationSec,
  parseKeyValues,
  parsePositiveInt,
  parseSizeMb,
  UsageError,
} from "../parse.js";

/** Flags of `aether env create`. */
export interface EnvCreateFlags {
  readonly file?: string;
  readonly agent?: string;
  readonly command?: string;
  readonly systemPrompt?: string;
  readonly model?: string;
  readonly repo?: string;
  readonly branch?: string;
  readonly dir?: string;
  readonly tokenSecret?: string;
  readonly tool?: string[];
  readonly env?: string[];
  readonly secret?: string[];
  readonly setup?: string[];
  readonly image?: string;
  readonly backend?: string;
  readonly vcpus?: string;
  readonly memory?: string;
  readonly disk?: string;
  readonly idleTimeout?: string;
}

/**
 * The create body: the JSON file's (`--file`, the full field set of `POST /environments`) with
 * the flags on top. The server validates it; its messages name the field.
 */
export function envCreateBody(
  name: string,
  flags: EnvCreateFlags,
  readFile: (file: string) => string,
): CreateEnvironmentRequest {
  let base: Record<string, unknown> = {};
  if (flags.file) {
    try {
      const text = readFile(flags.file);
      // YAML for .yaml/.yml files (a superset of JSON, so either reads the same there).
      base = (/\.ya?ml$/i.test(flags.file) ? parseYaml(text) : JSON.parse(text)) as Record<
        string,
        unknown
      >;
    } catch (err) {
      throw new UsageError(`--file ${flags.file}: ${(err as Error).message}`);
    }
    if (typeof base !== "object" || base === null || Array.isArray(base)) {
      throw new UsageError(`--file ${flags.file} must hold an object (JSON or YAML)`);
    }
  }
  const body: Record<string, unknown> = { ...base, name };
  const agent = { ...((base.agent as Record<string, unknown> | undefined) ?? {}) };
  if (flags.agent) agent.type = flags.agent;
  if (flags.command) agent.command = flags.command;
  if (flags.systemPrompt) agent.systemPrompt = flags.systemPrompt;
  if (flags.model) agent.model = flags.model;
  if (Object.keys(agent).length > 0) body.agent = agent;
  if (!body.agent) {
    throw new UsageError(
      "an environment needs an agent: --agent claude-code|amp|custom (or --file)",
    );
  }
  if (flags.repo || flags.branch || flags.dir || flags.tokenSecret) {
    const repo = { ...((base.repo as Record<string, unknown> | undefined) ?? {}) };
    if (flags.repo) repo.url = flags.repo;
    if (flags.branch) repo.branch = flags.branch;
    if (flags.dir) repo.dir = flags.dir;
    if (flags.tokenSecret) repo.tokenSecret = flags.tokenSecret;
    body.repo = repo;
  }
  if (flags.tool) body.tools = flags.tool;
  if (flags.env) body.env = parseKeyValues(flags.env, "--env");
  if (flags.secret) body.secrets = flags.secret;
  if (flags.setup) body.setup = flags.setup.map((run) => ({ type: "script", run }));
  if (flags.image) body.image = flags.image;
  if (flags.backend) body.backend = flags.backend;
  if (flags.vcpus) body.vcpus = parsePositiveInt(flags.vcpus, "--vcpus");
  if (flags.memory) body.memoryMb = parseSizeMb(flags.memory, "--memory");
  if (flags.disk) body.diskMb = parseSizeMb(flags.disk, "--disk");
  if (flags.idleTimeout)
    body.idleTimeoutSec = parseDurationSec(flags.idleTimeout, "--idle-timeout");
  return body as CreateEnvironmentRequest;
}

function describe(env: Environment): string {
  const lines = [
    `name:        ${env.name}  (${env.id})`,
    `agent:       ${env.agent.type}${env.agent.command ? ` (${env.agent.command})` : ""}${env.agent.model ? `, model ${env.agent.model}` : ""}`,
    `repository:  ${env.repo ? `${env.repo.url}${env.repo.branch ? ` @ ${env.repo.branch}` : ""} → ${env.repo.dir ?? "/workspace"}` : "none"}`,
    `tools:       ${env.tools.join(", ") || "none"}`,
    `secrets:     ${env.secrets.join(", ") || "none"}`,
    `env:         ${Object.keys(env.env).join(", ") || "none"}`,
    `mcp servers: ${env.mcpServers.map((s) => `${s.name} (${s.type})`).join(", ") || "none"}`,
    `setup steps: ${env.setup.length}`,
    `sandbox:     ${env.backend ?? "default backend"}, ${env.image ?? "default image"}, ${env.vcpus} vCPU, ${env.memoryMb} MB${env.diskMb ? `, ${env.diskMb} MB disk` : ""}`,
    `idle after:  ${env.idleTimeoutSec}s`,
  ];
  return lines.join("\n");
}

/** `aether env create <name> [flags]`. */
export async function envCreate(
  ctx: Context,
  name: string,
  flags: EnvCreateFlags,
): Promise<number> {
  const body = envCreateBody(name, flags, (f) => readFileSync(path.resolve(ctx.io.cwd, f), "utf8"));
  const env = await ctx.client.environments.create(body);
  ctx.output(env, () => describe(env));
  return 0;
}

/** `aether env ls`. */
export async function envList(ctx: Context): Promise<number> {
  const items: Environment[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.client.environments.list({ limit: 500, ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  const now = new Date();
  ctx.output({ items, nextCursor: null }, () =>
    table(
      ["ID", "NAME", "AGENT", "REPOSITORY", "TOOLS", "CREATED"],
      items.map((e) => [
        e.id,
        e.name,
        e.agent.type,
        e.repo?.url ?? "-",
        e.tools.join(",") || "-",
        `${age(e.createdAt, now)} ago`,
      ]),
    ),
  );
  return 0;
}

/** `aether env get <env>` (id or name). */
export async function envGet(ctx: Context, ref: string): Promise<number> {
  const env = await ctx.client.environments.get(ref);
  ctx.output(env, () => describe(env));
  return 0;
}

/** `aether env rm <env...>`. */
export async function envRemove(ctx: Context, refs: readonly string[]): Promise<number> {
  for (const ref of refs) {
    await ctx.client.environments.delete(ref);
    ctx.note(`deleted environment ${ref}`);
  }
  if (ctx.json) ctx.printJson({ deleted: refs });
  return 0;
}
