import { z } from "zod";
import { absolutePathSchema, timestampSchema } from "../domain/primitives.js";

/** Query of the file routes: `?path=` an absolute path inside the sandbox. */
export const filePathQuerySchema = z.object({ path: absolutePathSchema });

/** A parsed file path query. */
export type FilePathQuery = z.infer<typeof filePathQuerySchema>;

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
