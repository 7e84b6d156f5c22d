import { Readable } from "node:stream";
import { E2B_ENVD_VERSION } from "@aetherium/types";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { RouteDeps } from "../server/deps.js";
import { httpErrorOf } from "./connect-protocol.js";
import { registerE2bControlRoutes } from "./control-routes.js";
import {
  answerRpc,
  answerStreamInput,
  filesystemRpc,
  processRpc,
  type EnvdRpcDeps,
} from "./envd-rpc.js";
import { downloadFile, sendEnvdError, uploadFiles } from "./envd-files.js";
import { DirWatches } from "./dir-watch.js";
import { FilesystemOps } from "./filesystem-ops.js";
import { ProcessTable } from "./process-table.js";
import { logRequestWithoutSignature } from "./signed-urls.js";
import { authorizeFileCall, authorizeSandboxCall } from "./sandbox-access.js";

/**
 * The E2B-compatible API under `/e2b`, so the `e2b` SDKs work unchanged with
 * `E2B_API_URL=E2B_SANDBOX_URL=<gateway>/e2b` and an Aetherium key as `E2B_API_KEY`: the control
 * API (see {@link registerE2bControlRoutes}) and the in-sandbox API (envd's Connect services
 * and `/files`), mapped onto the data plane. Kept out of the OpenAPI document: it is E2B's
 * contract, described by E2B's own spec, not ours.
 */
export async function registerE2b(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const processes = new ProcessTable(deps.router);
  app.addHook("onClose", (_app, done) => {
    processes.closeAll();
    done();
  });
  await app.register((scope, _opts, done) => {
    // E2B's error body: `{code: <status>, message}`.
    scope.setErrorHandler((err, req, reply) => {
      const { status, message } = httpErrorOf(err, req.id);
      if (status >= 500) req.log.error({ err }, "e2b request failed");
      const retry = (err as { retryAfterSec?: unknown }).retryAfterSec;
      if (typeof retry === "number") void reply.header("retry-after", retry);
      void reply.status(status).send({ code: status, message });
    });
    registerE2bControlRoutes(scope, deps);
    done();
  });
  await app.register((scope, _opts, done) => {
    const files = new FilesystemOps(deps.router);
    registerEnvd(scope, deps, { processes, files, watches: new DirWatches(files) });
    done();
  });
}

function registerEnvd(app: FastifyInstance, deps: RouteDeps, rpc: EnvdRpcDeps): void {
  const maxUpload = deps.maxUploadBytes ?? 1024 * 1024 * 1024;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ["application/json", "application/connect+json"],
    { parseAs: "buffer" },
    (_req, body, done) => done(null, body),
  );
  // Uploads stream through untouched; the RPC routes refuse anything but JSON themselves.
  app.addContentTypeParser("*", (_req, payload, done) => done(null, payload));
  app.setErrorHandler((err, req, reply) => sendEnvdError(req, reply, err));

  // Under `/e2b` for header mode (`E2B_SANDBOX_URL=<server>/e2b`), and at the root for the
  // wildcard-domain Host `49983-<id>.<domain>` and for the signed URLs the SDK builds in header
  // mode (`new URL("/files", sandboxUrl)` drops the `/e2b`).
  for (const prefix of ["/e2b", ""]) registerEnvdRoutes(app, deps, rpc, prefix, maxUpload);
  // A client stream is read as it arrives, not buffered to a body limit: its own scope, whose
  // parser hands the body over as a stream.
  void app.register((scope, _opts, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_req, payload, parsed) => parsed(null, payload));
    for (const prefix of ["/e2b", ""]) {
      scope.post(
        `${prefix}/process.Process/StreamInput`,
        { schema: { hide: true } },
        (req, reply) =>
          answerStreamInput(rpc.processes, req, reply, () =>
            authorizeSandboxCall(deps.runtime.repos, req),
          ),
      );
    }
    done();
  });
}

function registerEnvdRoutes(
  app: FastifyInstance,
  deps: RouteDeps,
  rpc: EnvdRpcDeps,
  prefix: string,
  maxUpload: number,
): void {
  const { repos } = deps.runtime;
  const hidden = { schema: { hide: true } };
  const authorize = (req: FastifyRequest) => (user?: string) =>
    authorizeSandboxCall(repos, req, user);
  app.post<{ Params: { method: string } }>(
    `${prefix}/process.Process/:method`,
    hidden,
    (req, reply) =>
      answerRpc(req, reply, authorize(req), (call, m) =>
        processRpc(rpc, call, req.params.method, m, req, reply),
      ),
  );
  app.post<{ Params: { method: string } }>(
    `${prefix}/filesystem.Filesystem/:method`,
    hidden,
    (req, reply) =>
      answerRpc(req, reply, authorize(req), (call, m) =>
        filesystemRpc(rpc, call, req.params.method, m, req, reply),
      ),
  );
  // The request log would print a signed URL's signature with the URL: hidden there.
  const files = { ...hidden, logSerializers: { req: logRequestWithoutSignature } };
  app.get(`${prefix}/files`, files, (req, reply) =>
    downloadFile(deps.router, req, reply, () =>
      authorizeFileCall(repos, req, "read", deps.failedAuth),
    ),
  );
  app.post(`${prefix}/files`, { ...files, bodyLimit: maxUpload }, async (req, reply) => {
    try {
      await uploadFiles(
        deps.router,
        req,
        reply,
        () => authorizeFileCall(repos, req, "write", deps.failedAuth),
        maxUpload,
        rpc.files,
      );
    } finally {
      // A refused upload leaves its body unread; drain it so the answer reaches the client.
      if (req.body instanceof Readable && !req.body.readableEnded) req.body.resume();
    }
  });
  // 204 while the sandbox runs, 502 once it does not: how the SDK tells a dead sandbox.
  app.get(`${prefix}/health`, hidden, async (req, reply) => {
    const call = await authorize(req)();
    const vm = await deps.runtime.vms.get(call.vmId).catch(() => undefined);
    if (vm?.status !== "running") {
      return reply.status(502).send({ code: 502, message: `sandbox ${call.vmId} is not running` });
    }
    return reply.status(204).header("x-envd-version", E2B_ENVD_VERSION).send();
  });
  app.get(`${prefix}/envs`, hidden, async (req, reply) => {
    const call = await authorize(req)();
    const vm = await deps.runtime.vms.get(call.vmId);
    return reply.send(vm.env);
  });
}
