import { describe, expect, it } from "vitest";
import { DockerBackend } from "./docker-backend.js";
import {
  DockerEngineUnavailableError,
  DockerOperationError,
  ImageMissingError,
  SandboxConflictError,
  SandboxNotFoundError,
  isRetryableDockerError,
  mapDockerError,
} from "./docker-errors.js";

/** Shaped like the errors docker-modem rejects with. */
function engineError(statusCode: number, message: string) {
  return Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), {
    statusCode,
    json: { message },
  });
}

describe("mapDockerError", () => {
  it("maps socket failures to a retryable unavailable error", () => {
    const err = mapDockerError(Object.assign(new Error("connect ENOENT"), { code: "ENOENT" }), {
      operation: "ping",
      socketPath: "/x.sock",
    });
    expect(err).toBeInstanceOf(DockerEngineUnavailableError);
    expect(err.message).toContain("/x.sock");
    expect(isRetryableDockerError(err)).toBe(true);
  });

  it("tells a missing image from a missing container", () => {
    const image = mapDockerError(engineError(404, "No such image: aetherium/base:0.1.0"), {
      operation: "create container",
      image: "aetherium/base:0.1.0",
    });
    expect(image).toBeInstanceOf(ImageMissingError);
    expect(image.message).toContain("aetherium image build");
    expect(isRetryableDockerError(image)).toBe(false);
    const container = mapDockerError(engineError(404, "No such container: aetherium-x"), {
      operation: "inspect container",
      sandboxId: "x",
    });
    expect(container).toBeInstanceOf(SandboxNotFoundError);
    expect(container.httpStatus).toBe(404);
  });

  it("maps 409 to a conflict and other statuses to an operation error", () => {
    expect(mapDockerError(engineError(409, "name in use"), { operation: "create" })).toBeInstanceOf(
      SandboxConflictError,
    );
    const e500 = mapDockerError(engineError(500, "boom"), { operation: "start container" });
    expect(e500).toBeInstanceOf(DockerOperationError);
    expect(isRetryableDockerError(e500)).toBe(true);
    const e400 = mapDockerError(engineError(400, "bad"), { operation: "start container" });
    expect(isRetryableDockerError(e400)).toBe(false);
    // Already mapped errors pass through.
    expect(mapDockerError(e500, { operation: "again" })).toBe(e500);
  });

  it("reports an absent engine as unavailable through the backend", async () => {
    const backend = new DockerBackend({ socketPath: "/nonexistent/docker.sock" });
    await expect(backend.list()).rejects.toBeInstanceOf(DockerEngineUnavailableError);
  });
});
