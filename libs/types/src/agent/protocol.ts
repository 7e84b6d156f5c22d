/*
 * Constants of the guest agent protocol (`spec/agent-protocol.md`): its version, the method and
 * notification names, the error codes and the default limits. Both the agent (inside the sandbox)
 * and the host-side client import these, so a rename is a compile error on both sides at once.
 */

/**
 * Version of the wire protocol. Bumped on any incompatible change; `agent.info` reports it so a
 * host can refuse an agent it does not understand.
 */
export const AGENT_PROTOCOL_VERSION = 1;

/** Default unix socket path of the agent inside the sandbox (a bind-mounted directory). */
export const DEFAULT_AGENT_SOCKET_PATH = "/run/aetherium/agent.sock";

/**
 * Environment variable that hands the agent its sandbox's token, the secret it proves it holds
 * with `agent.auth`. Like every `AETHERIUM_AGENT_*` setting it is not passed on to the
 * processes the agent starts.
 */
export const AGENT_TOKEN_ENV = "AETHERIUM_AGENT_TOKEN";

/**
 * Names of the requests a client sends to the agent. Every one is a JSON-RPC request (it has an
 * `id` and gets a response), except {@link AGENT_CLIENT_NOTIFICATIONS}.
 */
export const AGENT_METHODS = {
  /** Agent version, protocol version, pid and uptime. */
  info: "agent.info",
  /** Liveness: answers as soon as the agent serves requests. */
  health: "agent.health",
  /** Proves the agent holds its sandbox's token: HMAC of the client's nonce. */
  auth: "agent.auth",
  /** Starts a process; output follows as `exec.output` notifications, then one `exec.exit`. */
  execStart: "exec.start",
  /** Writes bytes to a process's standard input. */
  execStdin: "exec.stdin",
  /** Closes a process's standard input (end of file). */
  execCloseStdin: "exec.closeStdin",
  /** Sends a signal to a process's group (with a PTY: to the terminal's foreground group). */
  execSignal: "exec.signal",
  /** Changes the terminal size of a PTY process. */
  execResize: "exec.resize",
  /** Lists running and recently exited processes. */
  execList: "exec.list",
  /** Attaches this connection to a process: replays buffered output, then streams live output. */
  execAttach: "exec.attach",
  /** Stops sending a process's output to this connection; the process keeps running. */
  execDetach: "exec.detach",
  /** Waits (bounded) until a process has exited. */
  execWait: "exec.wait",
  /** Reads a byte range of a file. */
  fsRead: "fs.read",
  /** Writes (creates, truncates or appends to) a file. */
  fsWrite: "fs.write",
  /** Lists a directory. */
  fsList: "fs.list",
  /** Describes one path. */
  fsStat: "fs.stat",
  /** Removes a file, link or (with `recursive`) a directory tree. */
  fsRemove: "fs.remove",
  /** Creates a directory. */
  fsMkdir: "fs.mkdir",
  /** Sets secrets: kept in agent memory only and merged into the environment of later processes. */
  secretsSet: "secrets.set",
} as const;

/** A request method name of the agent protocol. */
export type AgentMethod = (typeof AGENT_METHODS)[keyof typeof AGENT_METHODS];

/** Names of the notifications a client sends to the agent (no response). */
export const AGENT_CLIENT_NOTIFICATIONS = {
  /** Acknowledges output bytes the client has consumed, reopening the flow-control window. */
  execAck: "exec.ack",
} as const;

/** Names of the notifications the agent sends to clients. */
export const AGENT_NOTIFICATIONS = {
  /** A chunk of a process's output. */
  execOutput: "exec.output",
  /** A process has exited and all of its output has been sent. */
  execExit: "exec.exit",
} as const;

/** A notification name the agent sends. */
export type AgentNotification = (typeof AGENT_NOTIFICATIONS)[keyof typeof AGENT_NOTIFICATIONS];

/**
 * Error codes the agent answers with, in the JSON-RPC `error.code` field. The negative ones are
 * JSON-RPC's own; the positive ones are the agent's. `error.data` follows
 * {@link agentErrorDataSchema}.
 */
export const AGENT_ERROR_CODES = {
  /** The bytes were not valid JSON (JSON-RPC; reserved: such frames are dropped unanswered). */
  parseError: -32700,
  /** The message was not a valid JSON-RPC request (JSON-RPC). */
  invalidRequest: -32600,
  /** No such method (JSON-RPC). */
  methodNotFound: -32601,
  /** The params did not match the method's schema; `data.issues` lists what is wrong (JSON-RPC). */
  invalidParams: -32602,
  /** An unexpected failure inside the agent (JSON-RPC). */
  internalError: -32603,
  /** No process with that `processId` (never started, or exited and forgotten). */
  processNotFound: 1001,
  /** The process has exited or its standard input is closed. */
  processExited: 1002,
  /** The process could not be started (`data.errno`: `ENOENT` for a missing command, …). */
  spawnFailed: 1003,
  /** The `user` names no account in the sandbox's `/etc/passwd`. */
  userNotFound: 1004,
  /** `exec.resize` on a process started without `pty`. */
  notATerminal: 1005,
  /** `exec.start` with a `processId` that is already in use. */
  processIdInUse: 1006,
  /** The path does not exist (`ENOENT`). */
  fileNotFound: 1010,
  /** The agent's user may not do this (`EACCES`, `EPERM`, `EROFS`). */
  permissionDenied: 1011,
  /** The path already exists (`EEXIST`). */
  alreadyExists: 1012,
  /** A path component is not a directory (`ENOTDIR`), or `fs.list` on a file. */
  notADirectory: 1013,
  /** The path is a directory where a file was expected (`EISDIR`). */
  isADirectory: 1014,
  /** `fs.remove` of a non-empty directory without `recursive` (`ENOTEMPTY`). */
  directoryNotEmpty: 1015,
  /** `fs.remove` of `/`. (A relative path or one with NUL fails the schema: `invalidParams`.) */
  invalidPath: 1016,
  /** Any other file-system failure; `data.errno` says which. */
  ioError: 1017,
  /**
   * `fs.read`/`fs.write` on something that is not a regular file: a FIFO, a socket, a character or
   * block device. Refused rather than opened, since reading one may block without end or never end.
   */
  notARegularFile: 1018,
} as const;

/** A numeric agent error code. */
export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[keyof typeof AGENT_ERROR_CODES];

/**
 * Default flow-control window: the most output bytes (decoded, per process and connection) the
 * agent sends before it waits for `exec.ack`. While a window is full the agent stops reading the
 * process's pipes, so a process that prints without end blocks in `write(2)` instead of filling
 * the agent's memory.
 */
export const DEFAULT_OUTPUT_WINDOW_BYTES = 1024 * 1024;

/** Smallest and largest window a client may ask for. */
export const OUTPUT_WINDOW_LIMITS = { min: 64 * 1024, max: 64 * 1024 * 1024 } as const;

/**
 * Bytes of recent output the agent keeps per process (both streams together) for `exec.attach`
 * replay. Older output is dropped; `exec.attach` reports when that happened.
 */
export const REPLAY_BUFFER_BYTES = 1024 * 1024;

/**
 * Binary output frames: how the agent sends process output to an attachment that asked for
 * `outputEncoding: "binary"`, instead of base64 inside an `exec.output` notification. A frame has
 * the same header block as a JSON-RPC message, with a distinct `Content-Type` and one more header,
 * and its body is the output bytes themselves:
 *
 * ```
 * Content-Length: <bytes>\r\n
 * Content-Type: application/vnd.aetherium.output\r\n
 * Aetherium-Output: <processId> <stdout|stderr> <seq>\r\n
 * \r\n
 * <bytes of output>
 * ```
 */
export const AGENT_OUTPUT_FRAME = {
  /** `Content-Type` of an output frame; JSON-RPC messages carry none (or a JSON one). */
  contentType: "application/vnd.aetherium.output",
  /** Header naming the chunk: `<processId> <stream> <seq>`, separated by single spaces. */
  header: "Aetherium-Output",
} as const;

/** Default and maximum bytes one `fs.read` returns; larger files are read in several calls. */
export const FS_READ_LIMITS = { default: 1024 * 1024, max: 8 * 1024 * 1024 } as const;

/** Largest decoded payload of one `fs.write` or `exec.stdin`; larger data is sent in chunks. */
export const MAX_WRITE_CHUNK_BYTES = 8 * 1024 * 1024;
