import { Transform, type Readable } from "node:stream";
import { PayloadTooLargeError } from "@aetherium/common";
import {
  absolutePathSchema,
  fileListResponseSchema,
  fileWriteResponseSchema,
} from "@aetherium/types";
import { z } from "zod";
import type { RouteDeps } from "../server/deps.js";
import { errorResponses, idParams, type Api } from "./api.js";

const tags = ["files"];

/**
 * `?path=`: absolute, and without `..` segments. The agent resolves paths itself too, but a path
 * that climbs is refused here, where the user gets a clear 400 instead of a surprise.
 */
const filePathQuerySchema = z.object({
  path: absolutePathSchema.refine(
    (p) => !p.split("/").includes(".."),
    "must not contain '..' segments",
  ),
});

/** `?mode=` on upload: permission bits in octal, as `chmod` takes them (`755`, `0644`). */
const writeQuery = filePathQuerySchema.extend({
  mode: z
    .string()
    .regex(/^0?[0-7]{3,4}$/, "mode must be octal permission bits such as 644 or 0755")
    .transform((m) => parseInt(m, 8))
    .optional(),
});

const removeQuery = filePathQuerySchema.extend({
  recursive: z.stringbool({ error: "recursive must be true or false" }).default(false),
});

/**
 * Files inside a sandbox, through the owning worker: bytes stream both ways (an upload is never
 * held whole in the gateway), so a large file costs no more memory than a small one.
 */
export function registerFileRoutes(api: Api, deps: RouteDeps): void {
  const { router } = deps;
  const maxUpload = deps.maxUploadBytes ?? 1024 * 1024 * 1024;

  // Uploads arrive as any content type (curl sends form types, browsers their own); all of it is
  // the file's bytes, passed on as a stream. Scoped to this plugin: JSON routes are unaffected.
  api.removeAllContentTypeParsers();
  api.addContentTypeParser("*", (_req, payload, done) => done(null, payload));

  api.get(
    "/api/v1/vms/:id/files",
    {
      schema: {
        tags,
        summary: "Download a file",
        params: idParams,
        querystring: filePathQuerySchema,
        response: { 200: z.any().describe("the file's bytes"), ...errorResponses },
      },
    },
    async (req, reply) => {
      const file = await router.readFile(req.params.id, req.query.path);
      reply.header("content-type", "application/octet-stream");
      if (file.size !== null) reply.header("content-length", file.size);
      return reply.send(file.body);
    },
  );

  api.put(
    "/api/v1/vms/:id/files",
    {
      bodyLimit: maxUpload,
      schema: {
        tags,
        summary: "Upload a file (parents are created)",
        params: idParams,
        querystring: writeQuery,
        response: { 200: fileWriteResponseSchema, ...errorResponses },
      },
    },
    async (req) => {
      const declared = Number(req.headers["content-length"] ?? "0");
      if (declared > maxUpload) {
        throw new PayloadTooLargeError(`a file upload is at most ${maxUpload} bytes`);
      }
      const given = (req.body ?? Buffer.alloc(0)) as Readable | Buffer;
      // A chunked upload declares no length: its bytes are counted as they pass, and the first
      // byte over the limit fails the upload (the worker removes what it wrote) with a 413.
      const body = Buffer.isBuffer(given) ? given : given.pipe(countingLimit(maxUpload));
      return router.writeFile(req.params.id, req.query.path, body, {
        ...(req.query.mode !== undefined ? { mode: req.query.mode } : {}),
      });
    },
  );

  api.delete(
    "/api/v1/vms/:id/files",
    {
      schema: {
        tags,
        summary: "Remove a file (or a directory with `recursive=true`)",
        params: idParams,
        querystring: removeQuery,
        response: { 204: z.null().describe("removed"), ...errorResponses },
      },
    },
    async (req, reply) => {
      await router.removeFile(req.params.id, req.query.path, { recursive: req.query.recursive });
      return reply.status(204).send(null);
    },
  );

  api.get(
    "/api/v1/vms/:id/files/list",
    {
      schema: {
        tags,
        summary: "List a directory",
        params: idParams,
        querystring: filePathQuerySchema,
        response: { 200: fileListResponseSchema, ...errorResponses },
      },
    },
    async (req) => router.listFiles(req.params.id, req.query.path),
  );
}

/**
 * Passes bytes through until more than `limit` went by, then fails with a 413. `pipe` (not
 * `pipeline`) feeds it: the failure must not destroy the client's request, whose socket still
 * carries the answer.
 */
function countingLimit(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > limit)
        callback(new PayloadTooLargeError(`a file upload is at most ${limit} bytes`));
      else callback(null, chunk);
    },
  });
}
