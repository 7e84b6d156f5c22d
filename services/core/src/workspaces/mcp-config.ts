import type { AgentType, McpServer } from "@aetherium/types";
import { AGENT_HOME, CUSTOM_MCP_CONFIG_PATH } from "../prompts/agent-adapters.js";

/** Where each agent reads its MCP servers for the sandbox's user, and under which key. */
export const MCP_CONFIG_FILES: Readonly<Record<AgentType, { path: string; key: string }>> = {
  "claude-code": { path: `${AGENT_HOME}/.claude.json`, key: "mcpServers" },
  amp: { path: `${AGENT_HOME}/.config/amp/settings.json`, key: "amp.mcpServers" },
  custom: { path: CUSTOM_MCP_CONFIG_PATH, key: "mcpServers" },
};

/**
 * Expands `${VAR}` from `env` (plain configuration). A name not in `env` is left as written: a
 * secret's value is never put in a file, the agent expands it from its own process environment.
 */
export function expandVars(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(env, name) ? (env[name] ?? whole) : whole,
  );
}

function expandRecord(
  record: Readonly<Record<string, string>> | undefined,
  env: Readonly<Record<string, string>>,
): Record<string, string> | undefined {
  if (!record) return undefined;
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, expandVars(v, env)]));
}

/**
 * The MCP server entries in the agent's own format, `${VAR}` expanded from `env`. Claude Code and
 * the custom config name the transport (`type`); Amp tells them apart by `command` or `url`.
 */
export function mcpEntries(
  agent: AgentType,
  servers: readonly McpServer[],
  env: Readonly<Record<string, string>>,
): Record<string, Record<string, unknown>> {
  const withType = agent !== "amp";
  return Object.fromEntries(
    servers.map((s) => {
      const entry =
        s.type === "stdio"
          ? {
              ...(withType ? { type: "stdio" } : {}),
              command: expandVars(s.command, env),
              args: (s.args ?? []).map((a) => expandVars(a, env)),
              env: expandRecord(s.env, env) ?? {},
            }
          : {
              ...(withType ? { type: "http" } : {}),
              url: expandVars(s.url, env),
              headers: expandRecord(s.headers, env) ?? {},
            };
      return [s.name, entry];
    }),
  );
}

/**
 * A Python program (the base image has python3) that sets `key` of the JSON file `path` to the
 * JSON in `$AETHER_MCP_JSON`, keeping the rest of the file (Claude Code keeps its own state in
 * `~/.claude.json`), readable by its owner only.
 */
export function mcpWriteProgram(): string {
  return [
    "import json, os, sys",
    "path, key = sys.argv[1], sys.argv[2]",
    "os.makedirs(os.path.dirname(path), exist_ok=True)",
    "try:",
    "    with open(path) as f: data = json.load(f)",
    "except (FileNotFoundError, ValueError):",
    "    data = {}",
    "data[key] = json.loads(os.environ['AETHER_MCP_JSON'])",
    "tmp = path + '.tmp'",
    "fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)",
    "with os.fdopen(fd, 'w') as f: json.dump(data, f, indent=2)",
    "os.replace(tmp, path)",
    "print('wrote %d MCP server(s) to %s under %s' % (len(data[key]), path, key))",
  ].join("\n");
}
