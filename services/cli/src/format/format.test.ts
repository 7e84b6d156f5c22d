import {
  AuthError,
  BadRequestError,
  NetworkError,
  NotFoundError,
  SandboxError,
} from "@aetherium/sdk";
import { describe, expect, it } from "vitest";
import { UsageError } from "../parse.js";
import { describeError, exitCodeFor } from "./errors.js";
import { age, mib, table, until } from "./table.js";

describe("tables and ages", () => {
  it("aligns columns to the widest cell", () => {
    expect(
      table(
        ["ID", "NAME"],
        [
          ["a", "first"],
          ["longer-id", "x"],
        ],
      ),
    ).toBe("ID         NAME\na          first\nlonger-id  x\n");
  });

  it("shows relative ages and sizes compactly", () => {
    const now = new Date("2026-01-02T00:00:00.000Z");
    expect(age("2026-01-01T23:59:50.000Z", now)).toBe("10s");
    expect(age("2026-01-01T23:55:00.000Z", now)).toBe("5m");
    expect(age("2026-01-01T21:00:00.000Z", now)).toBe("3h");
    expect(age("2025-12-30T00:00:00.000Z", now)).toBe("3d");
    expect(age(null, now)).toBe("-");
    expect(until("2026-01-02T00:05:00.000Z", now)).toBe("in 5m");
    expect(mib(512)).toBe("512M");
    expect(mib(2048)).toBe("2G");
    expect(mib(1536)).toBe("1.5G");
  });
});

describe("error lines", () => {
  const ctx = {
    url: "http://127.0.0.1:8080",
    keySource: "env" as const,
    keyFile: "/x/.aetherium/admin.key",
  };

  it("points an unreachable gateway at npm start", () => {
    const line = describeError(
      new NetworkError(
        "cannot reach Aetherium at http://127.0.0.1:8080 (ECONNREFUSED)",
        "network",
        0,
      ),
      ctx,
    );
    expect(line).toMatch(/is it running\? start it with `npm start`/);
  });

  it("says where a refused key came from and how to pass one", () => {
    const refused = describeError(
      new AuthError("the API key is not valid", "unauthorized", 401),
      ctx,
    );
    expect(refused).toMatch(/AETHERIUM_API_KEY was refused/);
    expect(refused).toMatch(/--api-key/);
    const none = describeError(new AuthError("an API key is required", "unauthorized", 401), {
      ...ctx,
      keySource: "none",
    });
    expect(none).toMatch(/no API key found .*\/x\/\.aetherium\/admin\.key/);
  });

  it("sends a 404 to the matching ls", () => {
    const err = new NotFoundError("task t1 not found", "not_found", 404);
    expect(describeError(err, { ...ctx, command: "task get" })).toMatch(/`aether task ls`/);
    expect(describeError(err, { ...ctx, command: "vm get" })).toMatch(/`aether vm ls`/);
  });

  it("lists validation issues and names the failed sandbox", () => {
    const bad = new BadRequestError("invalid body", "bad_request", 400, "r", [
      { path: "vcpus", message: "vcpus must be between 1 and 64" },
    ]);
    expect(describeError(bad, ctx)).toBe("invalid body (vcpus: vcpus must be between 1 and 64)");
    const failed = new SandboxError("sandbox x is failed", "vm-1", "failed");
    expect(describeError(failed, ctx)).toMatch(/aether vm get vm-1/);
  });

  it("exits 2 for usage errors and 1 otherwise, without a stack", () => {
    expect(exitCodeFor(new UsageError("x"))).toBe(2);
    expect(exitCodeFor(new Error("x"))).toBe(1);
    const line = describeError(new TypeError("boom"), ctx);
    expect(line).toBe("unexpected error: boom");
  });
});
