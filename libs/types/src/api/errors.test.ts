import { describe, expect, it } from "vitest";
import {
  ERROR_STATUS_BY_CODE,
  errorCodeForStatus,
  errorCodeSchema,
  errorResponseSchema,
} from "./errors.js";

describe("error codes", () => {
  it("map to the HTTP statuses of spec/api.md", () => {
    expect(ERROR_STATUS_BY_CODE).toEqual({
      bad_request: 400,
      unauthorized: 401,
      forbidden: 403,
      not_found: 404,
      conflict: 409,
      payload_too_large: 413,
      rate_limited: 429,
      unavailable: 503,
      internal: 500,
    });
    expect(Object.keys(ERROR_STATUS_BY_CODE).sort()).toEqual([...errorCodeSchema.options].sort());
  });

  it("map back from statuses", () => {
    expect(errorCodeForStatus(404)).toBe("not_found");
    expect(errorCodeForStatus(418)).toBe("bad_request");
    expect(errorCodeForStatus(502)).toBe("unavailable");
    expect(errorCodeForStatus(599)).toBe("internal");
  });

  it("parse the error envelope", () => {
    const body = {
      error: { code: "not_found", message: "sandbox x not found" },
      requestId: "req-1",
    };
    expect(errorResponseSchema.parse(body)).toEqual(body);
    expect(
      errorResponseSchema.safeParse({ error: { code: "nope", message: "" }, requestId: "r" })
        .success,
    ).toBe(false);
  });
});
