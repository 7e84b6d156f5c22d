import { errorResponseSchema } from "@aetherium/types";
import { z } from "zod";
import { describe, expect, it } from "vitest";
import {
  AetheriumError,
  ConfigError,
  ConflictError,
  DependencyUnavailableError,
  InternalError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
  ValidationError,
  httpStatusOf,
  isAetheriumError,
  toDependencyError,
  toErrorEnvelope,
  type Dependency,
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

describe("toDependencyError", () => {
  // Shapes as the drivers throw them: ioredis and pg errors carry no class we could import here.
  const redisDown = Object.assign(new Error("Reached the max retries per request limit"), {
    name: "MaxRetriesPerRequestError",
  });
  const redisFrozen = new Error("Command timed out");
  const pgRefusing = Object.assign(
    new Error('database "x" is not currently accepting connections'),
    { code: "55000" },
  );
  const pgTerminated = Object.assign(
    new Error("terminating connection due to administrator command"),
    {
      code: "57P01",
    },
  );
  const pgGone = Object.assign(new Error("connect ECONNREFUSED 10.0.0.5:5432 password=hunter2"), {
    code: "ECONNREFUSED",
  });

  it("maps an outage of Redis or PostgreSQL to 503 unavailable naming the dependency", () => {
    const cases: [unknown, string | undefined, string][] = [
      [redisDown, "queue", "queue"],
      [redisFrozen, "event bus", "event bus"],
      [redisFrozen, undefined, "queue"],
      [pgRefusing, undefined, "database"],
      [pgTerminated, undefined, "database"],
      [new Error("Connection terminated unexpectedly"), undefined, "database"],
      [new Error("timeout exceeded when trying to connect"), undefined, "database"],
      [pgGone, undefined, "database"],
    ];
    for (const [err, hint, dependency] of cases) {
      const mapped = toDependencyError(err, hint as Dependency | undefined);
      expect(mapped, String(err)).toBeInstanceOf(DependencyUnavailableError);
      expect(mapped?.dependency).toBe(dependency);
      expect(mapped?.cause).toBe(err);
      // Unwrapped driver errors render the same way at any edge.
      expect(httpStatusOf(err)).toBe(503);
      expect(toErrorEnvelope(err, "r").error.code).toBe("unavailable");
      expect(toErrorEnvelope(mapped, "r").error).toEqual({
        code: "unavailable",
        message: `the ${dependency} is unavailable; retry shortly`,
        details: { dependency },
      });
    }
    // The driver's message (addresses, credentials) never reaches the client.
    expect(JSON.stringify(toErrorEnvelope(pgGone, "r"))).not.toContain("hunter2");
  });

  it("leaves other errors alone", () => {
    const unique = Object.assign(new Error("duplicate key"), { code: "23505" });
    for (const err of [
      unique,
      new Error("boom"),
      "text",
      undefined,
      new NotFoundError("vm", "v"),
    ]) {
      expect(toDependencyError(err)).toBeUndefined();
    }
    expect(httpStatusOf(unique)).toBe(500);
  });
});
