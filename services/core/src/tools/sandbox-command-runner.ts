/**
 * A shell command to run in a sandbox through a {@link SandboxCommandRunner}. The command line
 * runs as `/bin/sh -c <shell>`; its output is streamed to the callbacks as it arrives.
 */
export interface SandboxCommand {
  /** The command line, run by `/bin/sh -c`. */
  readonly shell: string;
  /** User (name or uid) it runs as; the sandbox agent's own user when absent. */
  readonly user?: string;
  /** Extra environment, over the sandbox's own. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory (absolute); the agent's default when absent. */
  readonly cwd?: string;
  /** Kill it (its whole process group) after this many milliseconds; no limit when absent. */
  readonly timeoutMs?: number;
  /** Aborting kills it; the promise still resolves with how it ended. */
  readonly signal?: AbortSignal;
  /** A piece of its standard output, decoded as UTF-8 (split characters are kept whole). */
  readonly onStdout?: (text: string) => void;
  /** A piece of its standard error, decoded as UTF-8. */
  readonly onStderr?: (text: string) => void;
}

/** How a {@link SandboxCommand} ended. */
export interface SandboxCommandResult {
  /** Its exit code; null when a signal ended it. */
  readonly exitCode: number | null;
  /** The signal that ended it (`SIGKILL`…), if one did. */
  readonly signal: string | null;
  /** True when its `timeoutMs` ran out and it was killed for it. */
  readonly timedOut: boolean;
  /** Wall-clock milliseconds from start to exit. */
  readonly durationMs: number;
}

/**
 * Runs shell commands in a sandbox, whatever its backend: the port through which control-plane
 * logic (tool installation, workspace preparation) acts inside a sandbox. A worker implements it
 * over the sandbox's guest agent. `run` rejects only when the command cannot be started or the
 * sandbox is lost; a non-zero exit, a timeout or an abort is a result.
 */
export interface SandboxCommandRunner {
  run(sandboxId: string, command: SandboxCommand): Promise<SandboxCommandResult>;
}
