import { AGENT_ERROR_CODES, type AgentErrorCode, type AgentErrorData } from "@aetherium/types";

/**
 * An error the agent answers a request with: a protocol error code and `data`. Handlers throw it;
 * the server turns it into a JSON-RPC error response. The message must never contain secrets or
 * environment values: it is sent to the host and may be logged there.
 */
export class AgentRpcError extends Error {
  readonly code: AgentErrorCode;
  readonly data: AgentErrorData | undefined;

  constructor(code: AgentErrorCode, message: string, data?: AgentErrorData) {
    super(message);
    this.name = "AgentRpcError";
    this.code = code;
    this.data = data;
  }
}

const CODE_BY_ERRNO: Record<string, AgentErrorCode> = {
  ENOENT: AGENT_ERROR_CODES.fileNotFound,
  EACCES: AGENT_ERROR_CODES.permissionDenied,
  EPERM: AGENT_ERROR_CODES.permissionDenied,
  EROFS: AGENT_ERROR_CODES.permissionDenied,
  EEXIST: AGENT_ERROR_CODES.alreadyExists,
  ENOTDIR: AGENT_ERROR_CODES.notADirectory,
  EISDIR: AGENT_ERROR_CODES.isADirectory,
  ENOTEMPTY: AGENT_ERROR_CODES.directoryNotEmpty,
};

const WHAT_BY_ERRNO: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  EEXIST: "already exists",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  ENOTEMPTY: "directory not empty",
};

/** The errno name (`ENOENT`, …) of a Node system error, if it is one. */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string") {
    return err.code;
  }
  return undefined;
}

/** Turns a failed file-system call on `path` into the matching {@link AgentRpcError}. */
export function fsError(err: unknown, path: string): AgentRpcError {
  if (err instanceof AgentRpcError) return err;
  const errno = errnoOf(err);
  if (errno === undefined) {
    return new AgentRpcError(AGENT_ERROR_CODES.ioError, `${path}: ${String(err)}`, { path });
  }
  const code = CODE_BY_ERRNO[errno] ?? AGENT_ERROR_CODES.ioError;
  const what = WHAT_BY_ERRNO[errno] ?? errno;
  return new AgentRpcError(code, `${path}: ${what}`, { path, errno });
}
