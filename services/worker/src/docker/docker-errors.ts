/**
 * The one place that turns Docker Engine API failures into Aetherium's typed errors. Everything
 * else in the Docker backend calls {@link mapDockerError} and never looks at a status code or an
 * engine message itself, so the rules below (which failures are retryable, which are the
 * operator's to fix) are written down once.
 * @module
 */
import {
  AetheriumError,
  ConflictError,
  InternalError,
  NotFoundError,
  UnavailableError,
} from "@aetherium/common";

/** The command that builds the default sandbox image; quoted by {@link ImageMissingError}. */
export const IMAGE_BUILD_COMMAND = "aetherium image build";

/** The Docker engine did not answer (socket missing, refused, reset, timed out). Retryable. */
export class DockerEngineUnavailableError extends UnavailableError {
  /** Retrying later may succeed: the engine may be restarting. */
  readonly retryable = true;
  /** Builds the error; `socketPath` says where the engine was expected. */
  constructor(socketPath: string, options: { cause?: unknown } = {}) {
    super(
      `Docker engine does not answer on ${socketPath}: start it (scripts/ensure-docker.sh) and retry`,
      options,
    );
  }
}

/** The sandbox's container does not exist. Permanent. */
export class SandboxNotFoundError extends NotFoundError {
  /** Retrying cannot help. */
  readonly retryable = false;
  /** Builds `"sandbox <id> not found"`. */
  constructor(sandboxId: string, options: { cause?: unknown } = {}) {
    super("sandbox", sandboxId, options);
  }
}

/** The action conflicts with the container's state or name (already exists, being removed). */
export class SandboxConflictError extends ConflictError {
  /** Not retryable as is: the caller must change something (remove the old one, wait) first. */
  readonly retryable = false;
  /** Builds the error. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
  }
}

/**
 * The sandbox image is not on this worker. Permanent: there is no registry to pull from, the
 * image is built locally, so the message says how.
 */
export class ImageMissingError extends AetheriumError {
  /** Retrying cannot help until someone builds the image. */
  readonly retryable = false;
  /** The image reference that was asked for. */
  readonly image: string;
  /** Builds the error, naming the image and the command that builds it. */
  constructor(image: string, options: { cause?: unknown } = {}) {
    // `internal`, not `unavailable`: a 503 invites clients to retry, and only an operator can fix this.
    super(
      "internal",
      `sandbox image ${image} is not on this worker: build it with \`${IMAGE_BUILD_COMMAND}\``,
      { details: { image, buildCommand: IMAGE_BUILD_COMMAND }, cause: options.cause },
    );
    this.image = image;
  }
}

/** Any other engine failure: logged with its cause, reported generically. */
export class DockerOperationError extends InternalError {
  /** 5xx from the engine are sometimes transient (a busy daemon); 4xx are our bug. */
  readonly retryable: boolean;
  /** The engine's HTTP status, when it answered. */
  readonly statusCode: number | undefined;
  /** Builds the error for `operation` (`"create container"`). */
  constructor(operation: string, statusCode: number | undefined, options: { cause?: unknown }) {
    super(
      `Docker ${operation} failed${statusCode === undefined ? "" : ` (${statusCode})`}`,
      options,
    );
    this.statusCode = statusCode;
    this.retryable = statusCode === undefined || statusCode >= 500;
  }
}

/** Every error {@link mapDockerError} returns. */
export type DockerBackendError =
  | DockerEngineUnavailableError
  | SandboxNotFoundError
  | SandboxConflictError
  | ImageMissingError
  | DockerOperationError;

/** What the failing call was about, so the mapped error can name it. */
export interface DockerErrorContext {
  /** The operation, in words (`"create container"`, `"inspect image"`). */
  operation: string;
  /** The sandbox involved, if any. */
  sandboxId?: string;
  /** The image involved, if any: a 404 naming it becomes {@link ImageMissingError}. */
  image?: string;
  /** Where the engine was reached, for the unreachable message. */
  socketPath?: string;
}

/** Socket-level errors that mean the engine is not there (or not yet, or no longer). */
const UNREACHABLE_CODES = new Set([
  "ENOENT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EACCES",
  "EAI_AGAIN",
  "ENOTFOUND",
]);

interface DockerodeErrorShape {
  statusCode?: unknown;
  code?: unknown;
  reason?: unknown;
  json?: unknown;
  message?: unknown;
}

/** The engine's own message: dockerode puts the JSON body in `json`, sometimes as a Buffer. */
export function engineMessage(err: unknown): string {
  if (typeof err !== "object" || err === null) return String(err);
  const e = err as DockerodeErrorShape;
  let json = e.json;
  if (Buffer.isBuffer(json)) json = json.toString("utf8");
  if (typeof json === "string") {
    const text = json;
    try {
      json = JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  if (typeof json === "object" && json !== null && "message" in json) {
    return String(json.message);
  }
  return typeof e.message === "string" ? e.message : JSON.stringify(err);
}

/** The HTTP status the engine answered with, if the failure came from an answer at all. */
export function engineStatus(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const status = (err as DockerodeErrorShape).statusCode;
  return typeof status === "number" ? status : undefined;
}

/**
 * Maps a failure from dockerode (or the socket under it) to a typed error. Already-mapped errors
 * pass through unchanged, so callers may wrap freely.
 *
 * - no HTTP answer and a socket error code → {@link DockerEngineUnavailableError} (retryable);
 * - 404 whose message names an image, or any 404 when `context.image` is set and no sandbox is →
 *   {@link ImageMissingError} (permanent, says how to build it);
 * - other 404 → {@link SandboxNotFoundError};
 * - 409 → {@link SandboxConflictError};
 * - anything else → {@link DockerOperationError}.
 */
export function mapDockerError(err: unknown, context: DockerErrorContext): DockerBackendError {
  if (
    err instanceof DockerEngineUnavailableError ||
    err instanceof SandboxNotFoundError ||
    err instanceof SandboxConflictError ||
    err instanceof ImageMissingError ||
    err instanceof DockerOperationError
  ) {
    return err;
  }
  const socketPath = context.socketPath ?? "/var/run/docker.sock";
  const status = engineStatus(err);
  const code =
    typeof err === "object" && err !== null ? (err as DockerodeErrorShape).code : undefined;
  if (status === undefined && typeof code === "string" && UNREACHABLE_CODES.has(code)) {
    return new DockerEngineUnavailableError(socketPath, { cause: err });
  }
  const message = engineMessage(err);
  if (status === 404) {
    const namesImage =
      /no such image|image .* not found|pull access denied|repository .* not found/i;
    if (
      namesImage.test(message) ||
      (context.image !== undefined && context.sandboxId === undefined)
    ) {
      return new ImageMissingError(context.image ?? message, { cause: err });
    }
    return new SandboxNotFoundError(context.sandboxId ?? "(unknown)", { cause: err });
  }
  if (status === 409) {
    const who = context.sandboxId === undefined ? "" : ` for sandbox ${context.sandboxId}`;
    return new SandboxConflictError(`cannot ${context.operation}${who}: ${message}`, {
      cause: err,
    });
  }
  return new DockerOperationError(context.operation, status, { cause: err });
}

/** True when retrying the failed call later may succeed. */
export function isRetryableDockerError(err: unknown): boolean {
  return typeof err === "object" && err !== null && "retryable" in err && err.retryable === true;
}
