import { errorResponseSchema } from "@aetherium/types";
import { z } from "zod";
import { describe, expect, it } from "vitest";
import {
  AetheriumError,
  ConfigError,
  ConflictError,
  InternalError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
  ValidationError,
  httpStatusOf,
  isAetheriumError,
  toErrorEnvelope,
} from "./index.js";

describe("error classes", () => {
  it("carry code, HTTP status, name and cause", () => {
    const cause = new Error("row missing");
    const err = new NotFoundError("vm", "vm_123", { cause });
    expect(err).toBeInstanceOf(AetheriumError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("NotFoundError");
    expect(err.code).toBe("not_found");
    expect(err.httpStatus).toBe(404);
    expect(err.message).toBe("vm vm_123 not found");
    expect(err.cause).toBe(cause);
    expect(new ConflictError("name taken").httpStatus).toBe(409);
    expect(new UnauthorizedError().httpStatus).toBe(401);
    expect(isAetheriumError(err)).toBe(true);
    expect(isAetheriumError(new Error("x"))).toBe(false);
  });

  it("RateLimitedError says when to retry", () => {
    const err = new RateLimitedError(30);
    expect(err.retryAfterSec).toBe(30);
    expect(err.httpStatus).toBe(429);
    expect(err.message).toContain("30");
  });

  it("ValidationError lists every issue with its path", () => {
    const schema = z.object({
      vcpus: z.number().int().min(1),
      env: z.record(z.string(), z.string()),
    });
    const result = schema.safeParse({ vcpus: 0, env: { A: 1 } });
    if (result.success) throw new Error("expected failure");
    const err = new ValidationError(result.error, "request body");
    expect(err.code).toBe("bad_request");
    expect(err.httpStatus).toBe(400);
    expect(err.details).toEqual([
      { path: "vcpus", message: expect.any(String) },
      { path: "env.A", message: expect.any(String) },
    ]);
    expect(err.message).toMatch(/^invalid request body: vcpus: .*; env\.A: /);
  });
});

describe("toErrorEnvelope", () => {
  it("renders an AetheriumError as the API error body", () => {
    const body = toErrorEnvelope(new NotFoundError("vm", "vm_1"), "req_1");
    expect(body).toEqual({
      error: {
        code: "not_found",
        message: "vm vm_1 not found",
        details: { resource: "vm", id: "vm_1" },
      },
      requestId: "req_1",
    });
    expect(errorResponseSchema.parse(body)).toEqual(body);
    expect(toErrorEnvelope(new ConflictError("busy"), "r")).toEqual({
      error: { code: "conflict", message: "busy" },
      requestId: "r",
    });
  });

  it("never leaks the message or stack of other errors", () => {
    const leaky = new Error("connect ECONNREFUSED 10.0.0.5:5432 password=hunter2");
    for (const thrown of [leaky, "a string", { message: "object" }, undefined]) {
      const body = toErrorEnvelope(thrown, "req_2");
      expect(body).toEqual({
        error: { code: "internal", message: "internal error" },
        requestId: "req_2",
      });
      expect(httpStatusOf(thrown)).toBe(500);
    }
    expect(JSON.stringify(toErrorEnvelope(leaky, "r"))).not.toContain("hunter2");
  });

  it("keeps the chosen message of an InternalError and uses its status", () => {
    const err = new InternalError(undefined, { cause: new Error("disk full at /var/lib") });
    expect(toErrorEnvelope(err, "r").error).toEqual({
      code: "internal",
      message: "internal error",
    });
    expect(httpStatusOf(new RateLimitedError(1))).toBe(429);
  });

  it("ConfigError lists problems with sources", () => {
    const err = new ConfigError(
      [{ path: "server.port", message: "expected an integer", source: "AETHERIUM_PORT" }],
      "/etc/aetherium.yaml",
    );
    expect(err.name).toBe("ConfigError");
    expect(err.message).toBe(
      "invalid configuration (file /etc/aetherium.yaml):\n  - server.port: expected an integer (from AETHERIUM_PORT)",
    );
  });
});
