import { shellQuote } from "@aetherium/common";
import { parseToolSpec } from "@aetherium/types";
import type { SandboxCommand, SandboxCommandRunner } from "./sandbox-command-runner.js";

/** The user tools are installed for unless told otherwise: the sandbox's unprivileged account. */
const DEFAULT_TOOLS_USER = "user";

/** How long one tool may take to install unless told otherwise: 10 minutes. */
const DEFAULT_TOOL_TIMEOUT_MS = 10 * 60_000;

/** Bytes of a tool's output kept for its result and its error message (the end is kept). */
const OUTPUT_TAIL_CHARS = 16 * 1024;

/** How long one of the quick mise queries (list, which) may take. */
const QUERY_TIMEOUT_MS = 60_000;

/** A step of {@link installTools}, as it happens. */
export interface ToolInstallStep {
  readonly spec: string;
  /**
   * `started` before its install; `output` for each piece of the installer's output; then one of
   * `succeeded` (installed and verified), `skipped` (already installed and active) or `failed`.
   */
  readonly phase: "started" | "output" | "succeeded" | "failed" | "skipped";
  /** With `output`: the piece of output. */
  readonly output?: string;
  /** With `succeeded`/`skipped`: the version mise resolved (`20.18.1` for `node@20`). */
  readonly version?: string;
  /** With `succeeded`/`skipped`: where the tool's executable is (`mise which`). */
  readonly path?: string;
  /** With `succeeded`/`skipped`/`failed`: how long the step took. */
  readonly durationMs?: number;
  /** With `failed`: why, naming the tool. */
  readonly error?: string;
}

/** Settings of {@link installTools}. */
export interface InstallToolsOptions {
  /** How long one tool may take (its `mise use`); default {@link DEFAULT_TOOL_TIMEOUT_MS}. */
  readonly timeoutMsPerTool?: number;
  /** Whose tools they are (mise installs into that user's home); default `user`. */
  readonly user?: string;
  /** Extra environment for mise (`MISE_OFFLINE`, a proxy, a token for a private registry…). */
  readonly env?: Readonly<Record<string, string>>;
  /** Aborting kills the running install and rejects with the abort reason. */
  readonly signal?: AbortSignal;
  /** Progress, as it happens. A throwing callback does not stop the installation. */
  onStep?(step: ToolInstallStep): void;
}

/** The outcome of one tool. */
export interface ToolInstallResult {
  readonly spec: string;
  readonly status: "succeeded" | "skipped" | "failed";
  /** The version installed (resolved by mise); absent when it failed before that was known. */
  readonly version?: string;
  /** Path of its executable as the user's `mise which` answers. */
  readonly path?: string;
  /** The end of its installer's output (empty when skipped). */
  readonly output: string;
  readonly durationMs: number;
  /** Why it failed, naming the tool. */
  readonly error?: string;
}

/**
 * Thrown by {@link installTools} when a tool could not be installed: the message names the tool
 * and says why, `output` holds the end of the installer's output, and `results` the tools handled
 * so far (the failed one last).
 */
export class ToolInstallError extends Error {
  override readonly name = "ToolInstallError";
  constructor(
    readonly spec: string,
    readonly reason: string,
    readonly output: string,
    readonly results: readonly ToolInstallResult[],
  ) {
    super(`tool ${spec} failed: ${reason}${output.trim() ? `\n${output.trimEnd()}` : ""}`);
  }
}

/**
 * Installs tools in a sandbox with mise, one after the other, as `user` (`mise use -g <spec>`, so
 * they are that user's global tools: on PATH through mise's shims for every later command). Each
 * tool is verified afterwards (`mise ls --json` for the version, `mise which` for its executable);
 * a tool already installed and active is `skipped`. Stops at the first failure and throws a
 * {@link ToolInstallError} naming the tool, with its output: never a silent success.
 */
export async function installTools(
  runner: SandboxCommandRunner,
  sandboxId: string,
  specs: readonly string[],
  options: InstallToolsOptions = {},
): Promise<ToolInstallResult[]> {
  const results: ToolInstallResult[] = [];
  const user = options.user ?? DEFAULT_TOOLS_USER;
  const timeoutMs = options.timeoutMsPerTool ?? DEFAULT_TOOL_TIMEOUT_MS;
  // MISE_YES: never wait for a confirmation nobody can give. Colour codes would only clutter
  // stored output.
  const env = { MISE_YES: "1", NO_COLOR: "1", ...options.env };
  const emit = (step: ToolInstallStep) => {
    try {
      options.onStep?.(step);
    } catch {
      // A broken progress listener must not break the installation.
    }
  };
  const query = (shell: string) =>
    runCaptured(runner, sandboxId, {
      shell,
      user,
      env,
      timeoutMs: QUERY_TIMEOUT_MS,
      signal: options.signal,
    });

  for (const spec of specs) {
    options.signal?.throwIfAborted();
    const { name, version } = parseToolSpec(spec);
    const t0 = performance.now();
    const elapsed = () => Math.max(0, Math.round(performance.now() - t0));
    const fail = (reason: string, output: string, known: { version?: string } = {}): never => {
      const tail = tailOf(output);
      const result: ToolInstallResult = {
        spec,
        status: "failed",
        ...known,
        output: tail,
        durationMs: elapsed(),
        error: `tool ${spec} failed: ${reason}`,
      };
      results.push(result);
      emit({ spec, phase: "failed", error: result.error, durationMs: result.durationMs });
      throw new ToolInstallError(spec, reason, tail, [...results]);
    };

    emit({ spec, phase: "started" });
    const before = await activeVersion(query, name, version);
    if (before) {
      const path = await executablePath(query, name);
      if (path) {
        const durationMs = elapsed();
        results.push({ spec, status: "skipped", version: before, path, output: "", durationMs });
        emit({ spec, phase: "skipped", version: before, path, durationMs });
        continue;
      }
    }

    let output = "";
    const collect = (text: string) => {
      output = tailOf(output + text, OUTPUT_TAIL_CHARS * 2);
      emit({ spec, phase: "output", output: text });
    };
    const installed = await runner.run(sandboxId, {
      shell: `mise use --global ${shellQuote(spec)}`,
      user,
      env,
      timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
      onStdout: collect,
      onStderr: collect,
    });
    options.signal?.throwIfAborted();
    if (installed.timedOut) fail(`timed out after ${timeoutMs} ms and was killed`, output);
    if (installed.exitCode !== 0) {
      const how =
        installed.exitCode === null
          ? `killed by ${installed.signal ?? "a signal"}`
          : `mise exited with code ${installed.exitCode}`;
      fail(how, output);
    }
    const resolved = await activeVersion(query, name, version);
    if (!resolved) fail("mise reports it not installed after `mise use`", output);
    const path = await executablePath(query, name);
    if (!path)
      fail("installed, but mise finds no executable for it", output, { version: resolved! });
    const durationMs = elapsed();
    results.push({
      spec,
      status: "succeeded",
      version: resolved!,
      path: path!,
      output: tailOf(output),
      durationMs,
    });
    emit({ spec, phase: "succeeded", version: resolved!, path: path!, durationMs });
  }
  return results;
}

type Query = (shell: string) => Promise<{ ok: boolean; stdout: string }>;

/** One entry of `mise ls --json <tool>`. */
interface MiseLsEntry {
  version?: string;
  requested_version?: string;
  installed?: boolean;
  active?: boolean;
}

/**
 * The version of `name` the user's global config makes active and that is installed, when it
 * answers `requested` (any version when the spec named none); undefined otherwise.
 */
async function activeVersion(
  query: Query,
  name: string,
  requested: string | undefined,
): Promise<string | undefined> {
  const listed = await query(`mise ls --json --global ${shellQuote(name)}`);
  if (!listed.ok) return undefined;
  let entries: MiseLsEntry[];
  try {
    const parsed: unknown = JSON.parse(listed.stdout);
    entries = Array.isArray(parsed) ? (parsed as MiseLsEntry[]) : [];
  } catch {
    return undefined;
  }
  const match = entries.find(
    (e) =>
      e.installed === true &&
      e.active === true &&
      typeof e.version === "string" &&
      (requested === undefined || e.requested_version === requested),
  );
  return match?.version;
}

/**
 * Where the tool's executable is: `mise which` of the name its executable most likely has (the
 * tool name without backend, scope or owner), else the first executable in its `mise bin-paths`.
 */
async function executablePath(query: Query, name: string): Promise<string | undefined> {
  const bin = name
    .replace(/^[a-z][a-z0-9-]*:/, "")
    .split("/")
    .pop()!;
  const which = await query(`mise which ${shellQuote(bin)}`);
  const direct = which.stdout.trim().split("\n")[0];
  if (which.ok && direct) return direct;
  const listed = await query(
    `for d in $(mise bin-paths ${shellQuote(name)}); do for f in "$d"/*; do if [ -f "$f" ] && [ -x "$f" ]; then echo "$f"; exit 0; fi; done; done; exit 1`,
  );
  const first = listed.stdout.trim().split("\n")[0];
  return listed.ok && first ? first : undefined;
}

async function runCaptured(
  runner: SandboxCommandRunner,
  sandboxId: string,
  command: Omit<SandboxCommand, "onStdout" | "onStderr">,
): Promise<{ ok: boolean; stdout: string }> {
  let stdout = "";
  const result = await runner.run(sandboxId, {
    ...command,
    onStdout: (text) => {
      stdout += text;
    },
  });
  return { ok: result.exitCode === 0 && !result.timedOut, stdout };
}

function tailOf(text: string, limit = OUTPUT_TAIL_CHARS): string {
  return text.length <= limit ? text : text.slice(text.length - limit);
}

/** Single-quotes a word for `/bin/sh` (specs are validated, but quoting costs nothing). */
