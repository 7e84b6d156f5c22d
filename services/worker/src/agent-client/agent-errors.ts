import { AetheriumError } from "@aetherium/common";
import {
  AGENT_ERROR_CODES,
  agentErrorDataSchema,
  type AgentErrorData,
  type ErrorCode,
} from "@aetherium/types";

/** Name of an agent error code (`fileNotFound`, …), or `unknown` for a code this client lacks. */
export type AgentErrorName = keyof typeof AGENT_ERROR_CODES | "unknown";

const NAME_BY_CODE = new Map<number, keyof typeof AGENT_ERROR_CODES>(
  Object.entries(AGENT_ERROR_CODES).map(([k, v]) => [v, k as keyof typeof AGENT_ERROR_CODES]),
);

// How each agent error surfaces through the API (and how the gateway renders it).
const API_CODE: Partial<Record<AgentErrorName, ErrorCode>> = {
  invalidParams: "bad_request",
  invalidPath: "bad_request",
  notADirectory: "bad_request",
  isADirectory: "bad_request",
  notARegularFile: "bad_request",
  notATerminal: "bad_request",
  spawnFailed: "bad_request",
  userNotFound: "bad_request",
  processNotFound: "not_found",
  fileNotFound: "not_found",
  processIdInUse: "conflict",
  alreadyExists: "conflict",
  directoryNotEmpty: "conflict",
  processExited: "conflict",
  permissionDenied: "forbidden",
};

/**
 * An error answered by the guest agent. `agentCode` is the protocol's numeric code, `reason` its
 * name (`fileNotFound`, `spawnFailed`, …) and `data` its `error.data` (errno, path, processId).
 * The API `code` follows from it, so the gateway renders it like any other `AetheriumError`.
 */
export class AgentError extends AetheriumError {
  /** Numeric protocol code (`AGENT_ERROR_CODES`). */
  readonly agentCode: number;
  /** Name of the protocol code. */
  readonly reason: AgentErrorName;
  /** The error's `data`, when it matched the protocol's shape. */
  readonly data: AgentErrorData | undefined;

  constructor(agentCode: number, message: string, data?: unknown) {
    const reason = NAME_BY_CODE.get(agentCode) ?? "unknown";
    const parsed = agentErrorDataSchema.safeParse(data);
    const details = parsed.success ? parsed.data : undefined;
    super(API_CODE[reason] ?? "internal", message, { details });
    this.agentCode = agentCode;
    this.reason = reason;
    this.data = details;
  }
}

/** The agent could not be reached, or the connection to it was lost. */
export class AgentConnectionError extends AetheriumError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("unavailable", message, options);
  }
}

/**
 * The agent's socket path is not a socket of its own (a symlink, a regular file…): the worker
 * refused to connect to it, whatever it points to. Not retried: the sandbox put it there.
 */
export class AgentSocketRefusedError extends AgentConnectionError {}

/**
 * What answered on the agent's socket could not prove it holds the sandbox's token: it is not
 * this sandbox's agent (another sandbox's, or any other server), and the connection was closed
 * before anything of the sandbox's was sent. Not retried.
 */
export class AgentAuthError extends AgentConnectionError {}

/** The agent did not answer in time. */
export class AgentTimeoutError extends AetheriumError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("unavailable", message, options);
  }
}

/** True when `err` is an {@link AgentError} with the given reason. */
export function isAgentError(err: unknown, reason?: AgentErrorName): err is AgentError {
  return err instanceof AgentError && (reason === undefined || err.reason === reason);
}
