import {
  AGENT_METHODS,
  MAX_WRITE_CHUNK_BYTES,
  type AgentDirEntry,
  type AgentFileStat,
  type FsMkdirParams,
  type FsReadResult,
  type FsRemoveParams,
  type FsWriteParams,
} from "@aetherium/types";
import type { AgentConnection } from "./agent-connection.js";
import { AgentError } from "./agent-errors.js";
import { toBuffer } from "./bytes.js";

/** `fs.read` as bytes. */
export type AgentReadChunk = Omit<FsReadResult, "data"> & { data: Buffer };

/**
 * File operations inside the sandbox, over its agent's connection. Methods are bound, so they
 * may be passed around on their own.
 */
export class AgentFiles {
  constructor(private readonly connection: Pick<AgentConnection, "request">) {}

  /** One byte range of a file. */
  read = async (
    path: string,
    range: { offset?: number; length?: number } = {},
  ): Promise<AgentReadChunk> => {
    const r = await this.connection.request(AGENT_METHODS.fsRead, { path, ...range });
    return { ...r, data: Buffer.from(r.data, "base64") };
  };

  /** A whole file, read in chunks; fails beyond `maxBytes` (default 256 MiB). */
  readFile = async (path: string, maxBytes = 256 * 1024 * 1024): Promise<Buffer> => {
    const parts: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const r = await this.read(path, { offset });
      parts.push(r.data);
      offset += r.bytesRead;
      if (offset > maxBytes) {
        throw new AgentError(-32602, `${path} is larger than ${maxBytes} bytes`, { path });
      }
      if (r.eof || r.bytesRead === 0) break;
    }
    return Buffer.concat(parts);
  };

  /** Writes a file (any size: sent in chunks), creating parents unless told not to. */
  write = async (
    path: string,
    data: Uint8Array | string,
    options: Omit<FsWriteParams, "path" | "data"> = {},
  ): Promise<{ bytesWritten: number; size: number }> => {
    const buf = toBuffer(data);
    let written = 0;
    let size = 0;
    do {
      const chunk = buf.subarray(written, written + MAX_WRITE_CHUNK_BYTES);
      const r = await this.connection.request(AGENT_METHODS.fsWrite, {
        ...options,
        path,
        data: chunk.toString("base64"),
        append: written === 0 ? options.append : true,
      });
      written += r.bytesWritten;
      size = r.size;
    } while (written < buf.length);
    return { bytesWritten: written, size };
  };

  /** Directory entries, sorted by name. */
  list = async (path: string): Promise<AgentDirEntry[]> =>
    (await this.connection.request(AGENT_METHODS.fsList, { path })).entries;

  /** Metadata of a path (links not followed). */
  stat = (path: string): Promise<AgentFileStat> =>
    this.connection.request(AGENT_METHODS.fsStat, { path });

  /** Removes a path; `recursive` for trees, `force` to accept a missing path. */
  remove = async (path: string, options: Omit<FsRemoveParams, "path"> = {}): Promise<boolean> =>
    (await this.connection.request(AGENT_METHODS.fsRemove, { path, ...options })).removed;

  /** Creates a directory (with parents unless `parents: false`). */
  mkdir = async (path: string, options: Omit<FsMkdirParams, "path"> = {}): Promise<boolean> =>
    (await this.connection.request(AGENT_METHODS.fsMkdir, { path, ...options })).created;
}
