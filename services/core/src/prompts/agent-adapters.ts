import { BadRequestError } from "@aetherium/common";

/** The agents a workspace can run prompts with. */
export type AgentKind = "claude-code" | "amp" | "custom";

/** A workspace's agent settings (`workspaces.ai_assistant_config`). */
export interface AgentSettings {
  /** The program: required for `custom` (run by `/bin/sh -c`); for the others, the binary to run. */
  readonly command?: string;
  readonly systemPrompt?: string;
  readonly model?: string;
}

/** The sandbox's unprivileged account the agent runs as (`SANDBOX_USER` of the base image). */
export const AGENT_USER = "user";

/** Home of {@link AGENT_USER}. */
export const AGENT_HOME = "/home/user";

/** Where a custom agent finds the MCP servers of its workspace (written by preparation). */
export const CUSTOM_MCP_CONFIG_PATH = `${AGENT_HOME}/.config/aether/mcp.json`;

/**
 * The agent's PATH: tools installed with mise (its shims), the user's own bin directories, then
 * the system's. A login shell is not used, so nothing else would put the shims first.
 */
export const AGENT_PATH = [
  `${AGENT_HOME}/.local/share/mise/shims`,
  `${AGENT_HOME}/.local/bin`,
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
].join(":");

/** The largest value one environment variable may hold (the kernel's `MAX_ARG_STRLEN - 1`). */
export const MAX_ENV_VALUE_BYTES = 131_071;

/** How the agent's standard output is read: Claude Code's stream-json lines, or plain text. */
export type AgentOutputFormat = "stream-json" | "text";

/** Exactly what runs in the sandbox for one prompt. */
export interface AgentInvocation {
  /** The program; with `args` run directly, without through `/bin/sh -c`. */
  readonly command: string;
  readonly args?: readonly string[];
  /** Written to the agent's standard input, which is then closed. */
  readonly stdin: string;
  /** Variables the adapter adds (the caller adds the prompt's env and the secrets). */
  readonly env: Readonly<Record<string, string>>;
  readonly output: AgentOutputFormat;
}

/** The prompt being run, with its overrides resolved. */
export interface AgentRun {
  readonly prompt: string;
  /** The prompt's own system prompt, else the workspace's. */
  readonly systemPrompt?: string | null;
}

/** Reads `ai_assistant` as stored; `ampcode` is an older spelling of `amp`. Unknown: undefined. */
export function agentKindOf(stored: string): AgentKind | undefined {
  if (stored === "claude-code" || stored === "amp" || stored === "custom") return stored;
  if (stored === "ampcode") return "amp";
  return undefined;
}

/**
 * The command line, input and variables of one prompt for each agent.
 *
 * - **Claude Code**: print mode (`-p`) with `--output-format stream-json --verbose` (stream-json
 *   needs `--verbose` in print mode), the prompt on standard input (no argument-length limit),
 *   `--append-system-prompt` keeping Claude Code's own system prompt, `--model`, and
 *   `--dangerously-skip-permissions` since nobody is there to approve a tool inside the sandbox.
 *   MCP servers come from `~/.claude.json`, which Claude Code reads for the user it runs as.
 * - **Amp**: execute mode (`-x`) with `--stream-json` (the same message lines as Claude Code) and
 *   `--dangerously-allow-all`; the prompt on standard input. Amp has no system-prompt flag, so the
 *   system prompt leads the input; it has no model flag, so a model is refused. MCP servers come
 *   from `~/.config/amp/settings.json`.
 * - **custom**: `command` through `/bin/sh -c`, the prompt on standard input and in `AETHER_PROMPT`,
 *   the system prompt in `AETHER_SYSTEM_PROMPT`, the model in `AETHER_MODEL`, and the MCP config's
 *   path in `AETHER_MCP_CONFIG`; its output is taken as text.
 *
 * Throws BadRequestError for settings the agent cannot honour.
 */
export function agentInvocation(
  kind: AgentKind,
  settings: AgentSettings,
  run: AgentRun,
): AgentInvocation {
  const systemPrompt = run.systemPrompt ?? settings.systemPrompt ?? undefined;
  const base = { PATH: AGENT_PATH };
  switch (kind) {
    case "claude-code":
      return {
        command: settings.command ?? "claude",
        args: [
          "-p",
          "--output-format",
          "stream-json",
          "--verbose",
          "--dangerously-skip-permissions",
          ...(settings.model ? ["--model", settings.model] : []),
          ...(systemPrompt ? ["--append-system-prompt", systemPrompt] : []),
        ],
        stdin: run.prompt,
        env: base,
        output: "stream-json",
      };
    case "amp":
      if (settings.model) {
        throw new BadRequestError(
          "the amp agent does not take a model (Amp picks its own); remove model from the agent settings",
        );
      }
      return {
        command: settings.command ?? "amp",
        args: ["-x", "--stream-json", "--dangerously-allow-all"],
        stdin: systemPrompt ? `${systemPrompt}\n\n${run.prompt}` : run.prompt,
        env: base,
        output: "stream-json",
      };
    case "custom": {
      if (!settings.command) {
        throw new BadRequestError("the custom agent needs a command in the agent settings");
      }
      const env: Record<string, string> = {
        ...base,
        AETHER_PROMPT: run.prompt,
        AETHER_MCP_CONFIG: CUSTOM_MCP_CONFIG_PATH,
        ...(systemPrompt ? { AETHER_SYSTEM_PROMPT: systemPrompt } : {}),
        ...(settings.model ? { AETHER_MODEL: settings.model } : {}),
      };
      for (const [name, value] of Object.entries(env)) {
        if (Buffer.byteLength(`${name}=${value}`) > MAX_ENV_VALUE_BYTES) {
          throw new BadRequestError(
            `${name} would exceed ${MAX_ENV_VALUE_BYTES} bytes, the most one environment variable may hold; send a shorter prompt (the custom agent gets it in ${name} too)`,
          );
        }
      }
      return { command: settings.command, stdin: run.prompt, env, output: "text" };
    }
  }
}

/** A piece of the agent's answer, as shown to people. */
export interface AgentChunk {
  readonly stream: "stdout" | "stderr";
  readonly text: string;
}

/** Turns the agent's raw standard output into text chunks as it arrives. */
export interface AgentOutputParser {
  /** Takes decoded text; returns what can be shown now. */
  push(text: string): AgentChunk[];
  /** The stream ended; returns what was held back. */
  end(): AgentChunk[];
}

/** A parser for `format`: stream-json lines into text, or plain text as it is. */
export function agentOutputParser(format: AgentOutputFormat): AgentOutputParser {
  return format === "text" ? textParser() : streamJsonParser();
}

function textParser(): AgentOutputParser {
  return {
    push: (text) => (text === "" ? [] : [{ stream: "stdout", text }]),
    end: () => [],
  };
}

/** Longest line kept while waiting for its end; a longer one is shown as it is. */
const MAX_LINE_CHARS = 4 * 1024 * 1024;

/**
 * Claude Code's (and Amp's) stream-json: one JSON object per line. `assistant` messages carry the
 * answer as `text` content blocks, each shown as it arrives; `result` ends the run: its text is
 * shown only when no assistant text was (print mode repeats the last message there), and an
 * error result goes to stderr. `system`, `user` (tool results) and partial `stream_event` lines
 * are not part of the answer. A line that is not JSON (a crash message) is shown as it is.
 */
function streamJsonParser(): AgentOutputParser {
  let pending = "";
  let shownText = false;
  const line = (raw: string): AgentChunk[] => {
    const trimmed = raw.trim();
    if (trimmed === "") return [];
    let msg: unknown;
    try {
      msg = JSON.parse(trimmed);
    } catch {
      return [{ stream: "stdout", text: `${raw}\n` }];
    }
    if (typeof msg !== "object" || msg === null) return [{ stream: "stdout", text: `${raw}\n` }];
    const m = msg as {
      type?: unknown;
      message?: { content?: unknown };
      result?: unknown;
      is_error?: unknown;
      subtype?: unknown;
    };
    if (m.type === "assistant") {
      const content = Array.isArray(m.message?.content) ? m.message.content : [];
      const out: AgentChunk[] = [];
      for (const block of content as { type?: unknown; text?: unknown }[]) {
        if (block?.type === "text" && typeof block.text === "string" && block.text !== "") {
          shownText = true;
          out.push({
            stream: "stdout",
            text: block.text.endsWith("\n") ? block.text : `${block.text}\n`,
          });
        }
      }
      return out;
    }
    if (m.type === "result") {
      const failed =
        m.is_error === true || (typeof m.subtype === "string" && m.subtype !== "success");
      const text = typeof m.result === "string" ? m.result : "";
      if (failed) {
        const why = text || (typeof m.subtype === "string" ? m.subtype : "error");
        return [{ stream: "stderr", text: why.endsWith("\n") ? why : `${why}\n` }];
      }
      if (!shownText && text !== "")
        return [{ stream: "stdout", text: text.endsWith("\n") ? text : `${text}\n` }];
    }
    return [];
  };
  return {
    push(text) {
      pending += text;
      const out: AgentChunk[] = [];
      let nl = pending.indexOf("\n");
      while (nl !== -1) {
        out.push(...line(pending.slice(0, nl)));
        pending = pending.slice(nl + 1);
        nl = pending.indexOf("\n");
      }
      if (pending.length > MAX_LINE_CHARS) {
        out.push({ stream: "stdout", text: pending });
        pending = "";
      }
      return out;
    },
    end() {
      const rest = pending;
      pending = "";
      return line(rest);
    },
  };
}
