/**
 * One clear line for any failure, with the next step to take. Never a stack trace.
 * @module
 */
import {
  AetheriumApiError,
  AuthError,
  BadRequestError,
  ConflictError,
  ContractError,
  NetworkError,
  NotFoundError,
  RateLimitError,
  SandboxError,
  TimeoutError,
  UnavailableError,
} from "@aetherium/sdk";
import { UsageError } from "../parse.js";

/** What the CLI needs to say how to fix things. */
export interface ErrorContext {
  readonly url: string;
  readonly keySource: "flag" | "env" | "file" | "none";
  readonly keyFile: string;
  /** The command being run (`vm get`), to point at the right `ls`. */
  readonly command?: string;
}

/** The exit code for `err`: 2 for usage errors, 1 for everything else. */
export function exitCodeFor(err: unknown): number {
  return err instanceof UsageError ? 2 : 1;
}

function listHint(command: string | undefined): string {
  const group = command?.split(" ")[0];
  if (group === "task") return "list tasks with `aether task ls`";
  if (group === "worker") return "list workers with `aether worker ls`";
  if (group === "keys") return "list keys with `aether keys ls`";
  if (group === "env") return "list environments with `aether env ls`";
  if (command?.startsWith("ws secret"))
    return "list workspaces with `aether ws ls`, a workspace's secrets with `aether ws secret ls <ws>`";
  if (group === "ws" || group === "prompt") return "list workspaces with `aether ws ls`";
  if (group === "secret")
    return "list secrets with `aether secret ls` (add --workspace for a workspace's)";
  return "list sandboxes with `aether vm ls`";
}

function validationDetails(details: unknown): string {
  if (!Array.isArray(details)) return "";
  const parts = details
    .map((d: unknown) => {
      const { path, message } = (d ?? {}) as { path?: unknown; message?: unknown };
      return typeof message === "string"
        ? typeof path === "string" && path
          ? `${path}: ${message}`
          : message
        : "";
    })
    .filter(Boolean);
  return parts.length ? ` (${parts.join("; ")})` : "";
}

/** `--json`'s error document: the envelope fields of spec/api.md, on stderr. */
export interface JsonError {
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown };
  /** The gateway's request id, when the error came from a response. */
  readonly requestId?: string;
}

/**
 * `err` as `--json` prints it: the gateway's error code (`usage` for a bad command line,
 * `unexpected` for anything else), the same message {@link describeError} gives, and the
 * gateway's `details`, so a script never has to parse human text.
 */
export function jsonError(err: unknown, ctx: ErrorContext): JsonError {
  const message = describeError(err, ctx);
  if (err instanceof UsageError) return { error: { code: "usage", message } };
  if (err instanceof AetheriumApiError) {
    return {
      error: {
        code: err.code,
        message,
        ...(err.details !== undefined ? { details: err.details } : {}),
      },
      ...(err.requestId ? { requestId: err.requestId } : {}),
    };
  }
  const code = (err as { code?: unknown } | null)?.code;
  return {
    error: { code: typeof code === "string" ? code.toLowerCase() : "unexpected", message },
  };
}

/** The line to print (without the `aether: ` prefix) for `err`. */
export function describeError(err: unknown, ctx: ErrorContext): string {
  if (err instanceof UsageError) return `${err.message} (see \`aether --help\`)`;
  if (err instanceof NetworkError && !/^cannot (reach|open)/.test(err.message)) {
    // Reached it, then lost it (a stream dropped): say that, not "is it running?".
    return `${err.message}; the gateway or the sandbox's worker may have restarted`;
  }
  if (err instanceof NetworkError) {
    return `cannot reach Aetherium at ${ctx.url}; is it running? start it with \`npm start\`, or point --url / AETHERIUM_URL at it`;
  }
  if (err instanceof AuthError) {
    if (err.status === 403 || err.code === "forbidden") {
      return `${err.message}; use a key with that scope (\`aether keys create <name> --scope …\` with an admin key)`;
    }
    const how =
      "pass a key with --api-key or AETHERIUM_API_KEY (`npm start` prints the admin key and keeps it in .aetherium/admin.key)";
    if (ctx.keySource === "none")
      return `no API key found (looked at --api-key, AETHERIUM_API_KEY, ${ctx.keyFile}); ${how}`;
    const from =
      ctx.keySource === "flag"
        ? "--api-key"
        : ctx.keySource === "env"
          ? "AETHERIUM_API_KEY"
          : ctx.keyFile;
    return `the API key from ${from} was refused (${err.message}); ${how}`;
  }
  if (err instanceof NotFoundError) return `${err.message}; ${listHint(ctx.command)}`;
  if (err instanceof SandboxError) {
    return `${err.message}; see \`aether vm get ${err.vmId}\`, then \`aether vm rm ${err.vmId}\``;
  }
  if (err instanceof TimeoutError)
    return `${err.message}; it may still finish: check with \`aether vm ls\``;
  if (err instanceof RateLimitError) {
    return `${err.message}; retry${err.retryAfterSec !== undefined ? ` in ${err.retryAfterSec} s` : " shortly"}`;
  }
  if (err instanceof BadRequestError) return `${err.message}${validationDetails(err.details)}`;
  if (err instanceof ConflictError) return err.message;
  if (err instanceof UnavailableError) return `${err.message}; check \`aether health\``;
  if (err instanceof ContractError)
    return `${err.message}; update the CLI to the gateway's version`;
  if (err instanceof AetheriumApiError) {
    return `${err.message}${err.requestId ? ` (request ${err.requestId})` : ""}`;
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "ENOENT" || code === "EACCES" || code === "EISDIR") {
    return (err as Error).message;
  }
  return `unexpected error: ${err instanceof Error ? err.message : String(err)}`;
}
