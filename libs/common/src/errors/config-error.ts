import { AetheriumError } from "./aetherium-error.js";

/** One problem found while loading configuration. */
export interface ConfigProblem {
  /** Dotted key path (`server.port`, `worker.capacity.vcpus`); `(root)` for the whole document. */
  path: string;
  /** What is wrong and what was expected. */
  message: string;
  /** Where the bad value came from: an env variable name, or absent for the file/defaults. */
  source?: string;
}

/**
 * Thrown by `loadConfig()` when the configuration cannot be read or is invalid. The message lists
 * every bad key, where its value came from (the file or an `AETHERIUM_*` variable) and what was
 * expected, so a process that fails at start-up says exactly what to fix. Code `internal`: it is an
 * operator's problem, never a client's.
 */
export class ConfigError extends AetheriumError {
  /** The config file involved, if one was read. */
  readonly file: string | undefined;
  /** Every problem found. */
  readonly problems: ConfigProblem[];

  /** Builds the error; the message is derived from `problems` and `file`. */
  constructor(problems: ConfigProblem[], file?: string, options: { cause?: unknown } = {}) {
    super("internal", formatConfigProblems(problems, file), {
      details: problems,
      cause: options.cause,
    });
    this.file = file;
    this.problems = problems;
  }
}

function formatConfigProblems(problems: ConfigProblem[], file: string | undefined): string {
  const where = file === undefined ? "" : ` (file ${file})`;
  const lines = problems.map(
    (p) => `  - ${p.path}: ${p.message}${p.source === undefined ? "" : ` (from ${p.source})`}`,
  );
  return `invalid configuration${where}:\n${lines.join("\n")}`;
}
