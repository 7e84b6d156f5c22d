import { z } from "zod";
import { absolutePathSchema, timestampSchema } from "../domain/primitives.js";

/**
 * Query of the file routes: `?path=` an absolute path inside the sandbox, without `..` segments.
 * A path that climbs is refused where it arrives, with a clear 400, rather than left to whatever
 * the agent would make of it.
 */
export const filePathQuerySchema = z.object({
  path: absolutePathSchema.refine(
    (p) => !p.split("/").includes(".."),
    "must not contain '..' segments",
  ),
});

/** A parsed file path query. */
export type FilePathQuery = z.infer<typeof filePathQuerySchema>;

/**
 * Query of a file upload: the path, and `?mode=` permission bits in octal as `chmod` takes them
 * (`644`, `0755`, at most `7777`), parsed to their number.
 */
export const fileWriteQuerySchema = filePathQuerySchema.extend({
  mode: z
    .string()
    .regex(/^0?[0-7]{1,4}$/, "mode must be octal permission bits such as 644 or 0755")
    .transform((m) => parseInt(m, 8))
    .optional(),
});

/** A parsed file upload query. */
export type FileWriteQuery = z.infer<typeof fileWriteQuerySchema>;

/** Query of a file removal: the path, and `?recursive=true` to remove a directory tree. */
export const fileRemoveQuerySchema = filePathQuerySchema.extend({
  recursive: z.stringbool({ error: "recursive must be true or false" }).default(false),
});

/** A parsed file removal query. */
export type FileRemoveQuery = z.infer<typeof fileRemoveQuerySchema>;

/** What a directory entry is; `other` covers devices, sockets and FIFOs. */
export const fileTypeSchema = z.enum(["file", "dir", "symlink", "other"]);

/** A directory entry's type. */
export type FileType = z.infer<typeof fileTypeSchema>;

/** One entry of `GET /vms/{id}/files/list`. `mode` is the permission bits as a number (`0o644` = 420). */
export const fileEntrySchema = z.object({
  name: z.string(),
  type: fileTypeSchema,
  size: z.number().int().nonnegative(),
  mode: z.number().int().nonnegative(),
  modifiedAt: timestampSchema,
});

/** A directory entry. */
export type FileEntry = z.infer<typeof fileEntrySchema>;

/** Answer of `GET /api/v1/vms/{id}/files/list?path=`. */
export const fileListResponseSchema = z.object({
  path: absolutePathSchema,
  entries: z.array(fileEntrySchema),
});

/** A directory listing. */
export type FileListResponse = z.infer<typeof fileListResponseSchema>;

/** Answer of `PUT /api/v1/vms/{id}/files?path=`: where it was written and how many bytes. */
export const fileWriteResponseSchema = z.object({
  path: absolutePathSchema,
  size: z.number().int().nonnegative(),
});

/** A file write result. */
export type FileWriteResponse = z.infer<typeof fileWriteResponseSchema>;
