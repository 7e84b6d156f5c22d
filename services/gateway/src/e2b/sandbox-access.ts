import type { Repositories } from "@aetherium/core";
import { E2B_ENVD_PORT } from "@aetherium/types";
import { E2B_DEFAULT_USER } from "./default-user.js";
import type { FastifyRequest } from "fastify";
import type { FailedAuthLimiter } from "../auth/failed-auth-limiter.js";
import { accessTokenOpens } from "./access-token.js";
import { ConnectError } from "./connect-protocol.js";
import { sandboxOfSignature, signedFileRequest } from "./signed-urls.js";

/** The sandbox an in-sandbox call is for, and the user it acts as. */
export interface SandboxCall {
  readonly vmId: string;
  /** From `Authorization: Basic <user:>`, else E2B's default user (`user`). */
  readonly user: string;
}

/** `<port>-<sandboxId>.<any domain>`: the host the SDK names when it has no `E2B_SANDBOX_URL`. */
const HOST = /^(\d{1,5})-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\./i;

/**
 * The sandbox and port a call names: the `E2b-Sandbox-Id` / `E2b-Sandbox-Port` headers the SDK
 * sends when `E2B_SANDBOX_URL` points here, or the wildcard-domain Host `<port>-<id>.<domain>`.
 * (User ports are relayed before this: see `installE2bUserPorts`.)
 */
function target(req: FastifyRequest): { vmId: string; port: number } | undefined {
  const id = req.headers["e2b-sandbox-id"];
  if (typeof id === "string" && id.length > 0) {
    return { vmId: id, port: Number(req.headers["e2b-sandbox-port"] ?? E2B_ENVD_PORT) };
  }
  const host = HOST.exec(req.headers.host ?? "");
  if (host) return { vmId: (host[2] as string).toLowerCase(), port: Number(host[1]) };
  return undefined;
}

/** The user named by `Authorization: Basic base64(user:)`, as the SDK sends it. */
function basicUser(req: FastifyRequest): string | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? "");
  if (!m) return undefined;
  const decoded = Buffer.from(m[1] as string, "base64").toString("utf8");
  const user = decoded.split(":")[0];
  return user ? user : undefined;
}

/**
 * Checks an in-sandbox call: it names a sandbox and the envd port, and presents that sandbox's
 * access token (`X-Access-Token`). Throws `unauthenticated` otherwise; a port other than envd's
 * never gets here (the user-port relay takes it first), and is refused should it.
 */
export async function authorizeSandboxCall(
  repos: Repositories,
  req: FastifyRequest,
  userFromQuery?: string,
): Promise<SandboxCall> {
  const t = target(req);
  if (!t) {
    throw new ConnectError(
      "invalid_argument",
      "name the sandbox with the E2b-Sandbox-Id header (set E2B_SANDBOX_URL to <server>/e2b)",
    );
  }
  if (t.port !== E2B_ENVD_PORT) {
    throw new ConnectError(
      "unimplemented",
      `port ${t.port} is not envd's: user ports are served by Host or outside the envd paths`,
    );
  }
  const token = req.headers["x-access-token"];
  if (typeof token !== "string" || !(await accessTokenOpens(repos, token, t.vmId))) {
    throw new ConnectError(
      "unauthenticated",
      "a valid X-Access-Token for this sandbox is required (create or connect returns it as envdAccessToken)",
    );
  }
  return { vmId: t.vmId, user: userFromQuery || basicUser(req) || E2B_DEFAULT_USER };
}

/** Sandboxes a signed URL that names none may be for: every running one, a page at a time. */
async function runningSandboxes(repos: Repositories): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const page = await repos.vms.list({
      status: "running",
      limit: 500,
      ...(cursor ? { cursor } : {}),
    });
    ids.push(...page.items.map((vm) => vm.id));
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return ids;
}

/**
 * Checks a `/files` call: a signed URL (`signature`, `signature_expiration`, from the SDK's
 * `downloadUrl`/`uploadUrl`) is checked as envd checks it, and may name no sandbox at all (the
 * URL the SDK builds in header mode is `<server>/files?…`); anything else needs the access token
 * as every in-sandbox call does. The user is `username` from the query, else the default user.
 * A wrong signature counts as a wrong key for its address (`failedAuth`): finding a URL's sandbox
 * by its signature tries every running sandbox's tokens, so guessing must be bounded before it
 * costs that search.
 */
export async function authorizeFileCall(
  repos: Repositories,
  req: FastifyRequest,
  operation: "read" | "write",
  failedAuth?: Pick<FailedAuthLimiter, "blockedForMs" | "recordFailure">,
): Promise<SandboxCall> {
  const query = (req.query ?? {}) as Record<string, unknown>;
  const username =
    typeof query.username === "string" && query.username ? query.username : undefined;
  const signed = signedFileRequest(query, operation);
  if (!signed) return authorizeSandboxCall(repos, req, username);
  const t = target(req);
  if (t && t.port !== E2B_ENVD_PORT) {
    throw new ConnectError("unimplemented", `port ${t.port} is not envd's`);
  }
  const blockedMs = (await failedAuth?.blockedForMs(req.ip)) ?? 0;
  if (blockedMs > 0) {
    throw new ConnectError(
      "resource_exhausted",
      `too many wrong keys or signatures from this address; try again in ${Math.ceil(blockedMs / 1000)} s`,
    );
  }
  try {
    const vmId = await sandboxOfSignature(
      repos,
      signed,
      t ? [t.vmId] : await runningSandboxes(repos),
    );
    return { vmId, user: username ?? E2B_DEFAULT_USER };
  } catch (err) {
    if (err instanceof ConnectError && err.code === "unauthenticated") {
      await failedAuth?.recordFailure(req.ip);
    }
    throw err;
  }
}
