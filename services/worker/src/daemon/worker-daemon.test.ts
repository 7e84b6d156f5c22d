import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { advertisedAddress } from "./worker-daemon.js";

describe("advertisedAddress", () => {
  it("prefers the configured address, adding http:// to a bare host:port", () => {
    expect(advertisedAddress("worker-3:8081", "0.0.0.0", "http://0.0.0.0:8081")).toBe(
      "http://worker-3:8081",
    );
    expect(advertisedAddress("https://w.internal:9", "::", "http://[::]:8081")).toBe(
      "https://w.internal:9",
    );
  });

  it("uses the listening URL, with the host name instead of a wildcard address", () => {
    expect(advertisedAddress(undefined, "127.0.0.1", "http://127.0.0.1:4321")).toBe(
      "http://127.0.0.1:4321",
    );
    expect(advertisedAddress(undefined, "0.0.0.0", "http://0.0.0.0:4321")).toBe(
      `http://${hostname().toLowerCase()}:4321`,
    );
    expect(advertisedAddress(undefined, "::", "http://[::]:4321")).toBe(
      `http://${hostname().toLowerCase()}:4321`,
    );
  });
});
