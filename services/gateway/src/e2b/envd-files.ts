import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { PayloadTooLargeError } from "@aetherium/common";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { DataPlaneRouter } from "../data-plane/data-plane-router.js";
import { ConnectError, statusOfCode, toConnectError } from "./connect-protocol.js";
import { resolvePath, type FilesystemOps } from "./filesystem-ops.js";
import type { SandboxCall } from "./sandbox-access.js";

/** The `path` of a `/files` query (the user is the authorized call's). */
function fileQuery(req: FastifyRequest): { path?: string } {
  const q = (req.query ?? {}) as Record<string, unknown>;
  return typeof q.path === "string" ? { path: q.path } : {};
}

/** The namespace envd keeps user metadata in; counted in the per-file budget. */
const XATTR_PREFIX = "user.e2b.";
/** Longest key: the kernel's xattr name limit (255) less the namespace. */
const MAX_KEY_BYTES = 246;
/** Most metadata per file, keys (with the namespace) and values together. */
const MAX_METADATA_BYTES = 4096;

/**
 * The metadata an upload carries as `X-Metadata-<key>: <value>` headers, checked as envd checks
 * it: keys lowercased, the first of repeated headers wins, printable US-ASCII only, bounded.
 */
function uploadMetadata(req: FastifyRequest): Record<string, string> {
  const raw = req.raw.rawHeaders;
  const out: Record<string, string> = {};
  let total = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!/^x-metadata-/i.test(name)) continue;
    const key = name.slice("x-metadata-".length).toLowerCase();
    const value = raw[i + 1] as string;
    if (Object.hasOwn(out, key)) continue;
    if (!/^[\x21-\x7e]+$/.test(key)) {
      throw new ConnectError(
        "invalid_argument",
        `metadata key "${key}" must be printable US-ASCII`,
      );
    }
    if (key.length > MAX_KEY_BYTES) {
      throw new ConnectError(
        "invalid_argument",
        `metadata key "${key}" is over ${MAX_KEY_BYTES} bytes`,
      );
    }
    if (!/^[\x20-\x7e]*$/.test(value)) {
      throw new ConnectError(
        "invalid_argument",
        `metadata value of "${key}" must be printable US-ASCII`,
      );
    }
    total += XATTR_PREFIX.length + key.length + value.length;
    if (total > MAX_METADATA_BYTES) {
      throw new ConnectError(
        "invalid_argument",
        `a file's metadata is at most ${MAX_METADATA_BYTES} bytes`,
      );
    }
    out[key] = value;
  }
  return out;
}

/** envd's error body for its HTTP routes: the status as `code`, and a message. */
export async function sendEnvdError(
  req: FastifyRequest,
  reply: FastifyReply,
  err: unknown,
): Promise<void> {
  const e = toConnectError(err, req.id);
  const status = statusOfCode(e.code);
  if (!req.raw.complete) reply.header("connection", "close");
  await reply.status(status).send({ code: status, message: e.message });
}

/** `GET /e2b/files?path=`: the file's bytes, streamed from the sandbox. */
export async function downloadFile(
  router: DataPlaneRouter,
  req: FastifyRequest,
  reply: FastifyReply,
  authorize: () => Promise<SandboxCall>,
): Promise<void> {
  const q = fileQuery(req);
  const call = await authorize();
  if (!q.path) throw new ConnectError("invalid_argument", "path is required");
  const file = await router.readFile(call.vmId, resolvePath(q.path, call.user));
  reply.header("content-type", "application/octet-stream");
  if (file.size !== null) reply.header("content-length", file.size);
  await reply.send(file.body);
}

/**
 * `POST /e2b/files`: `application/octet-stream` (gzip allowed) streams to `?path=`;
 * `multipart/form-data` writes each `file` part to `?path=` or, without it, to the part's file
 * name. Answers the written entries as envd does.
 */
export async function uploadFiles(
  router: DataPlaneRouter,
  req: FastifyRequest,
  reply: FastifyReply,
  authorize: () => Promise<SandboxCall>,
  maxUpload: number,
  files: FilesystemOps,
): Promise<void> {
  const q = fileQuery(req);
  const call = await authorize();
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > maxUpload)
    throw new PayloadTooLargeError(`a file upload is at most ${maxUpload} bytes`);
  const type = String(req.headers["content-type"] ?? "");
  const raw =
    req.body instanceof Readable
      ? req.body
      : Readable.from(Buffer.isBuffer(req.body) ? [req.body] : []);
  // Checked before anything is written: a refused upload leaves no file behind.
  const metadata = uploadMetadata(req);
  const written: {
    name: string;
    type: "file";
    path: string;
    metadata?: Record<string, string>;
  }[] = [];
  // envd's answer: name, type and path, and the metadata when the file has some.
  const finish = async (path: string) => {
    const e = await files.finishWrite(call.vmId, path, call.user, metadata);
    written.push({
      name: e.name,
      type: "file",
      path,
      ...(e.metadata && Object.keys(e.metadata).length > 0 ? { metadata: e.metadata } : {}),
    });
  };
  if (type.startsWith("multipart/form-data")) {
    // The parts are read whole: the SDK sends small files this way and streams big ones as
    // octet-stream, which the branch below passes through without holding it.
    const form = await new Request("http://e2b.invalid/files", {
      method: "POST",
      headers: { "content-type": type },
      body: Readable.toWeb(raw),
      duplex: "half",
    }).formData();
    const parts = form.getAll("file");
    if (parts.length === 0)
      throw new ConnectError("invalid_argument", "the form has no `file` part");
    for (const part of parts) {
      // A plain field is the content itself, as envd takes it (a browser form's text field).
      const target = q.path ?? (typeof part === "string" ? undefined : part.name);
      if (!target)
        throw new ConnectError("invalid_argument", "path is required (query or part file name)");
      const path = resolvePath(target, call.user);
      const content =
        typeof part === "string" ? Buffer.from(part) : Buffer.from(await part.arrayBuffer());
      if (call.user !== "root") await files.prepareWrite(call.vmId, path, call.user);
      await router.writeFile(call.vmId, path, content);
      await finish(path);
    }
  } else {
    if (!q.path) throw new ConnectError("invalid_argument", "path is required");
    const path = resolvePath(q.path, call.user);
    const gz = String(req.headers["content-encoding"] ?? "").toLowerCase() === "gzip";
    if (call.user !== "root") await files.prepareWrite(call.vmId, path, call.user);
    await router.writeFile(call.vmId, path, gz ? raw.pipe(createGunzip()) : raw);
    await finish(path);
  }
  await reply.status(200).send(written);
}
