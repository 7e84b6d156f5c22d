import { describe, expect, it } from "vitest";
import { base64Decode, base64Encode, concatBytes, utf8Decode, utf8Encode } from "./base64.js";
import {
  AbortError,
  AetheriumApiError,
  AuthError,
  BadRequestError,
  ConflictError,
  NetworkError,
  NotFoundError,
  RateLimitError,
  UnavailableError,
  errorFromResponse,
} from "./errors.js";
import { matchesEventTopic } from "./events.js";
import { backoffDelay, sleep } from "./timing.js";
import { buildQuery } from "./transport.js";
import { handshakeError, toWebSocketUrl, webSocketProtocols } from "./websocket.js";

describe("base64", () => {
  it("round-trips every byte value and agrees with Node's encoder", () => {
    const bytes = new Uint8Array(256 * 3).map((_, i) => i % 256);
    const text = base64Encode(bytes);
    expect(text).toBe(Buffer.from(bytes).toString("base64"));
    expect(base64Decode(text)).toEqual(bytes);
  });

  it("handles empty input and chunks larger than one String.fromCharCode slice", () => {
    expect(base64Encode(new Uint8Array())).toBe("");
    expect(base64Decode("")).toEqual(new Uint8Array());
    const big = new Uint8Array(200_000).map((_, i) => (i * 7) % 256);
    expect(base64Decode(base64Encode(big))).toEqual(big);
  });

  it("encodes text as UTF-8, multi-byte characters included", () => {
    const bytes = utf8Encode("héllo ✓");
    expect(bytes.length).toBe(10);
    expect(utf8Decode(concatBytes([bytes.subarray(0, 2), bytes.subarray(2)]))).toBe("héllo ✓");
  });
});

describe("errorFromResponse", () => {
  const envelope = (code: string) => ({ error: { code, message: `m-${code}` }, requestId: "r" });
  it.each([
    [400, "bad_request", BadRequestError],
    [413, "payload_too_large", BadRequestError],
    [401, "unauthorized", AuthError],
    [403, "forbidden", AuthError],
    [404, "not_found", NotFoundError],
    [409, "conflict", ConflictError],
    [429, "rate_limited", RateLimitError],
    [503, "unavailable", UnavailableError],
  ])("maps %i %s to its class", (status, code, cls) => {
    const err = errorFromResponse(status, envelope(code));
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(AetheriumApiError);
    expect(err).toMatchObject({ status, code, message: `m-${code}`, requestId: "r" });
  });

  it("falls back on the HTTP status when the body is not our envelope", () => {
    expect(errorFromResponse(404, "<html>nope</html>")).toBeInstanceOf(NotFoundError);
    expect(errorFromResponse(502, undefined)).toBeInstanceOf(UnavailableError);
    const other = errorFromResponse(500, { error: { code: "internal", message: "boom" } });
    expect(other.constructor).toBe(AetheriumApiError);
  });

  it("reads Retry-After only when it is a number", () => {
    expect(
      (errorFromResponse(429, envelope("rate_limited"), "3") as RateLimitError).retryAfterSec,
    ).toBe(3);
    expect(
      (errorFromResponse(429, envelope("rate_limited"), "soon") as RateLimitError).retryAfterSec,
    ).toBeUndefined();
  });
});

describe("URLs and queries", () => {
  it("turns the gateway URL into ws:// or wss:// and keeps the query", () => {
    expect(toWebSocketUrl("http://127.0.0.1:8080/", "/api/v1/events?topics=vm")).toBe(
      "ws://127.0.0.1:8080/api/v1/events?topics=vm",
    );
    expect(toWebSocketUrl("https://aet.example.com", "/api/v1/vms/a/exec")).toBe(
      "wss://aet.example.com/api/v1/vms/a/exec",
    );
  });

  it("offers the key as a bearer subprotocol next to ours", () => {
    expect(webSocketProtocols("aet_k")).toEqual(["aetherium.v1", "bearer.aet_k"]);
    expect(webSocketProtocols(undefined)).toEqual(["aetherium.v1"]);
  });

  it("repeats array values and drops undefined ones", () => {
    expect(
      buildQuery({ status: ["running", "stopped"], label: ["a=b"], cursor: undefined, limit: 5 }),
    ).toBe("?status=running&status=stopped&label=a%3Db&limit=5");
    expect(buildQuery({ cursor: undefined })).toBe("");
    expect(buildQuery(undefined)).toBe("");
  });

  it("maps a refused handshake to the error its status implies", () => {
    const url = "ws://h/api/v1/events";
    expect(handshakeError({ message: "Unexpected server response: 401" }, url)).toBeInstanceOf(
      AuthError,
    );
    expect(
      handshakeError({ error: new Error("Unexpected server response: 404") }, url),
    ).toBeInstanceOf(NotFoundError);
    const net = handshakeError({ message: "connect ECONNREFUSED 127.0.0.1:1" }, url);
    expect(net).toBeInstanceOf(NetworkError);
    expect(net.message).toMatch(/npm start/);
    expect(handshakeError(undefined, url)).toBeInstanceOf(NetworkError);
  });
});

describe("topics", () => {
  it("matches exact types, entity prefixes, entity.* and *", () => {
    expect(matchesEventTopic("vm.created", "vm")).toBe(true);
    expect(matchesEventTopic("vm.created", "vm.*")).toBe(true);
    expect(matchesEventTopic("vm.created", "vm.created")).toBe(true);
    expect(matchesEventTopic("vm.created", "*")).toBe(true);
    expect(matchesEventTopic("vm.created", "task")).toBe(false);
    expect(matchesEventTopic("vmx.created", "vm")).toBe(false);
    expect(matchesEventTopic("vm.created", "vm.deleted")).toBe(false);
  });
});

describe("backoff", () => {
  it("doubles from the initial delay and never exceeds the maximum", () => {
    const noJitter = { initialMs: 100, maxMs: 1000, jitter: 0 };
    expect([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, noJitter))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it("jitter only shortens the delay, by at most its fraction", () => {
    const opts = { initialMs: 1000, maxMs: 1000, jitter: 0.5 };
    expect(backoffDelay(0, opts, () => 0)).toBe(1000);
    expect(backoffDelay(0, opts, () => 0.999999)).toBe(500);
    expect(backoffDelay(5, opts, () => 0.5)).toBe(750);
  });

  it("sleep rejects with AbortError when aborted", async () => {
    const ctl = new AbortController();
    const p = sleep(60_000, ctl.signal);
    ctl.abort();
    await expect(p).rejects.toBeInstanceOf(AbortError);
  });
});
