/**
 * Reaching the agent's socket without following anything the sandbox put in its place. The
 * socket lives in a directory the sandbox can write to, so the last path component is the
 * sandbox's to choose: a symlink there to another sandbox's socket, or to any host socket, would
 * otherwise have the worker (root) send that sandbox's commands, files and secrets wherever it
 * points.
 * @module
 */
import { constants } from "node:fs";
import { lstat, open, type FileHandle } from "node:fs/promises";
import { AgentSocketRefusedError } from "./agent-errors.js";

// Not in fs.constants; the value of every Linux architecture Node supports but alpha/sparc/parisc.
const O_PATH = 0o10000000;
const PINNING =
  process.platform === "linux" &&
  ["x64", "arm64", "arm", "ia32", "ppc64", "s390x"].includes(process.arch);

/** A path to connect to that denotes exactly the checked socket, and its release. */
export interface PinnedSocket {
  /** Where to `connect()`: `/proc/self/fd/<n>` on Linux, the checked path elsewhere. */
  readonly connectPath: string;
  /** Closes the pinning descriptor; call once the connection is made or has failed. */
  release(): Promise<void>;
}

function refuse(socketPath: string, what: string): AgentSocketRefusedError {
  return new AgentSocketRefusedError(
    `refusing to connect to the agent at ${socketPath}: it is ${what}, not the agent's socket (the sandbox may have replaced it)`,
  );
}

function describe(stat: { isSymbolicLink(): boolean; isSocket(): boolean }): string | undefined {
  if (stat.isSymbolicLink()) return "a symbolic link";
  if (!stat.isSocket()) return "not a socket";
  return undefined;
}

/**
 * Opens `socketPath` without following a final symlink and checks it is a unix socket. On Linux
 * the socket's inode is then held by an `O_PATH` descriptor and the connection goes through
 * `/proc/self/fd/<n>`, so swapping the entry between check and connect changes nothing. The
 * directories above are the worker's own and not checked. A missing path rejects with the
 * `ENOENT` error (the agent may not be listening yet); anything but a socket with
 * {@link AgentSocketRefusedError}.
 */
export async function pinAgentSocket(socketPath: string): Promise<PinnedSocket> {
  if (!PINNING) {
    const stat = await lstat(socketPath);
    const bad = describe(stat);
    if (bad !== undefined) throw refuse(socketPath, bad);
    return { connectPath: socketPath, release: () => Promise.resolve() };
  }
  const handle: FileHandle = await open(socketPath, O_PATH | constants.O_NOFOLLOW);
  try {
    const bad = describe(await handle.stat());
    if (bad !== undefined) throw refuse(socketPath, bad);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return { connectPath: `/proc/self/fd/${handle.fd}`, release: () => handle.close() };
}
