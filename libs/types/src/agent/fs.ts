import { z } from "zod";
import { agentBase64Schema, agentPathSchema, agentUserSchema } from "./common.js";
import { FS_READ_LIMITS, MAX_WRITE_CHUNK_BYTES } from "./protocol.js";

/** Kind of a file-system entry (symbolic links are not followed when listing). */
export const agentFileTypeSchema = z.enum(["file", "directory", "symlink", "other"]);

/** A file-system entry kind. */
export type AgentFileType = z.infer<typeof agentFileTypeSchema>;

/** File permission bits (`0o644`), at most `0o7777`. */
export const agentFileModeSchema = z.number().int().min(0).max(0o7777);

/** Metadata of one path. */
export const agentFileStatSchema = z.object({
  /** The normalised absolute path. */
  path: z.string(),
  type: agentFileTypeSchema,
  /** Size in bytes. */
  size: z.number().int(),
  /** Permission bits (`mode & 0o7777`). */
  mode: z.number().int(),
  uid: z.number().int(),
  gid: z.number().int(),
  /** Last modification, milliseconds since the epoch. */
  mtimeMs: z.number(),
  /** Target of a symbolic link. */
  linkTarget: z.string().optional(),
});

/** Metadata of one path. */
export type AgentFileStat = z.infer<typeof agentFileStatSchema>;

/** One entry of `fs.list`. */
export const agentDirEntrySchema = agentFileStatSchema.extend({
  /** The entry's name within the directory. */
  name: z.string(),
});

/** One directory entry. */
export type AgentDirEntry = z.infer<typeof agentDirEntrySchema>;

/**
 * Params of `fs.read`: a byte range. Big files are read in chunks: call again with
 * `offset + bytesRead` until `eof`.
 */
export const fsReadParamsSchema = z.object({
  path: agentPathSchema,
  /** First byte to read. Default 0. */
  offset: z.number().int().min(0).optional(),
  /** Most bytes to return. Default `FS_READ_LIMITS.default`, at most `FS_READ_LIMITS.max`. */
  length: z.number().int().min(0).max(FS_READ_LIMITS.max).optional(),
});

/** Params of `fs.read`. */
export type FsReadParams = z.infer<typeof fsReadParamsSchema>;

/** Result of `fs.read`. */
export const fsReadResultSchema = z.object({
  /** The bytes, base64. */
  data: agentBase64Schema,
  /** Bytes in `data`. */
  bytesRead: z.number().int(),
  /** File size when it was read. */
  size: z.number().int(),
  /** Whether the read reached the end of the file. */
  eof: z.boolean(),
});

/** Result of `fs.read`. */
export type FsReadResult = z.infer<typeof fsReadResultSchema>;

/**
 * Params of `fs.write`. Without `append` the file is created or truncated; big files are written
 * as a first chunk, then `append` chunks.
 */
export const fsWriteParamsSchema = z.object({
  path: agentPathSchema,
  /** The bytes, base64; at most `MAX_WRITE_CHUNK_BYTES` decoded. */
  data: agentBase64Schema.refine(
    (s) => (s.length / 4) * 3 <= MAX_WRITE_CHUNK_BYTES + 2,
    `data must decode to at most ${MAX_WRITE_CHUNK_BYTES} bytes; write larger files in chunks`,
  ),
  /** Append to the file instead of replacing its contents. */
  append: z.boolean().optional(),
  /** Permission bits for a new file (default `0o644`); also applied to an existing file. */
  mode: agentFileModeSchema.optional(),
  /** Create missing parent directories (default `true`). */
  createParents: z.boolean().optional(),
  /** Give the file (and parents it created) to this user and their primary group. */
  user: agentUserSchema.optional(),
});

/** Params of `fs.write`. */
export type FsWriteParams = z.infer<typeof fsWriteParamsSchema>;

/** Result of `fs.write`. */
export const fsWriteResultSchema = z.object({
  bytesWritten: z.number().int(),
  /** File size after the write. */
  size: z.number().int(),
});

/** Result of `fs.write`. */
export type FsWriteResult = z.infer<typeof fsWriteResultSchema>;

/** Params of `fs.list` and `fs.stat`. */
export const fsPathParamsSchema = z.object({ path: agentPathSchema });

/** Params naming one path. */
export type FsPathParams = z.infer<typeof fsPathParamsSchema>;

/** Result of `fs.list`: entries sorted by name. */
export const fsListResultSchema = z.object({ entries: z.array(agentDirEntrySchema) });

/** Result of `fs.list`. */
export type FsListResult = z.infer<typeof fsListResultSchema>;

/**
 * Result of `fs.stat` (symbolic links are not followed; `linkTarget` says where one points).
 * @alias
 */
export const fsStatResultSchema = agentFileStatSchema;

/** Result of `fs.stat`. */
export type FsStatResult = z.infer<typeof fsStatResultSchema>;

/** Params of `fs.remove`. */
export const fsRemoveParamsSchema = z.object({
  path: agentPathSchema,
  /** Remove a directory and everything in it. */
  recursive: z.boolean().optional(),
  /** Succeed when the path does not exist. */
  force: z.boolean().optional(),
});

/** Params of `fs.remove`. */
export type FsRemoveParams = z.infer<typeof fsRemoveParamsSchema>;

/** Result of `fs.remove`. */
export const fsRemoveResultSchema = z.object({
  /** `false` when the path did not exist (with `force`). */
  removed: z.boolean(),
});

/** Result of `fs.remove`. */
export type FsRemoveResult = z.infer<typeof fsRemoveResultSchema>;

/** Params of `fs.mkdir`. */
export const fsMkdirParamsSchema = z.object({
  path: agentPathSchema,
  /** Create missing parents too, and succeed if it exists (default `true`). */
  parents: z.boolean().optional(),
  /** Permission bits (default `0o755`, minus the agent's umask). */
  mode: agentFileModeSchema.optional(),
  /** Give created directories to this user and their primary group. */
  user: agentUserSchema.optional(),
});

/** Params of `fs.mkdir`. */
export type FsMkdirParams = z.infer<typeof fsMkdirParamsSchema>;

/** Result of `fs.mkdir`. */
export const fsMkdirResultSchema = z.object({
  /** `false` when the directory already existed. */
  created: z.boolean(),
});

/** Result of `fs.mkdir`. */
export type FsMkdirResult = z.infer<typeof fsMkdirResultSchema>;
