import { describe, expect, it, vi } from "vitest";
import { Api, queryString } from "./api.js";
import { createUtf8StreamDecoder } from "./encoding.js";
import { fillPath, listOperations } from "./openapi.js";
import {
  effectiveApiUrl,
  isValidApiUrl,
  loadSettings,
  normalizeApiUrl,
  saveSettings,
} from "./settings.js";

function memoryStore() {
  const m = new Map<string, string>();
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  };
}

describe("settings", () => {
  it("defaults to the page's origin and keeps the key in storage", () => {
    const s = memoryStore();
    expect(loadSettings(s)).toEqual({ apiUrl: "", apiKey: null });
    saveSettings(s, { apiUrl: "http://h:8080/api/v1/", apiKey: " k1 " });
    expect(loadSettings(s)).toEqual({ apiUrl: "http://h:8080", apiKey: "k1" });
    expect(effectiveApiUrl(loadSettings(s), "http://page")).toBe("http://h:8080");
    saveSettings(s, { apiUrl: "", apiKey: null });
    expect(effectiveApiUrl(loadSettings(s), "http://page")).toBe("http://page");
  });
  it("checks URLs", () => {
    expect(isValidApiUrl("")).toBe(true);
    expect(isValidApiUrl("https://x.example")).toBe(true);
    expect(isValidApiUrl("ftp://x")).toBe(false);
    expect(isValidApiUrl("not a url")).toBe(false);
    expect(normalizeApiUrl(" http://a/ ")).toBe("http://a");
  });
});

describe("api data layer", () => {
  it("builds query strings with repeated values and without empty ones", () => {
    expect(
      queryString({ status: ["running", "stopped"], workerId: undefined, limit: 5, x: "" }),
    ).toBe("?status=running&status=stopped&limit=5");
    expect(queryString({})).toBe("");
  });
  it("sends the key, and a 401 logs out", async () => {
    const onUnauthorized = vi.fn();
    const fetch = vi.fn(() =>
      Promise.resolve(
        new Response(JSON.stringify({ error: { code: "unauthorized", message: "bad key" } }), {
          status: 401,
        }),
      ),
    );
    const api = new Api({ url: "http://h/", apiKey: "k", onUnauthorized, fetch });
    await expect(api.listVms()).rejects.toThrow("bad key");
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("http://h/api/v1/vms?limit=200");
    expect((init.headers as Record<string, string>).authorization).toBe("Bearer k");
  });
  it("does not log out on 403 or 404", async () => {
    const onUnauthorized = vi.fn();
    const fetch = vi.fn(() =>
      Promise.resolve(
        new Response(JSON.stringify({ error: { code: "forbidden", message: "no" } }), {
          status: 403,
        }),
      ),
    );
    const api = new Api({ url: "http://h", apiKey: "k", onUnauthorized, fetch });
    await expect(api.listApiKeys()).rejects.toThrow();
    expect(onUnauthorized).not.toHaveBeenCalled();
  });
  it("writes files as raw bytes through the SDK's sandbox handle", async () => {
    const id = "4f0c2a4e-8a51-4b9e-9d7e-2f3c1b0a9e11";
    const vm = {
      id,
      name: "one",
      status: "running",
      backend: "docker",
      image: "aetherium/base",
      vcpus: 1,
      memoryMb: 512,
      diskMb: 2048,
      workerId: null,
      labels: {},
      env: {},
      network: { egress: "allow-all" },
      createdAt: "2026-01-01T10:00:00.000Z",
      readyAt: null,
      expiresAt: null,
      stoppedAt: null,
      error: null,
    };
    const fetch = vi.fn((url: string, init?: RequestInit) =>
      Promise.resolve(
        new Response(
          JSON.stringify(init?.method === "PUT" ? { path: "/tmp/a b", size: 3 } : { vm }),
        ),
      ),
    );
    const api = new Api({
      url: "http://h",
      apiKey: "k",
      fetch: fetch as unknown as typeof globalThis.fetch,
    });
    expect(await api.writeFile(id, "/tmp/a b", new Uint8Array([1, 2, 3]))).toEqual({
      path: "/tmp/a b",
      size: 3,
    });
    await api.writeFile(id, "/tmp/a b", new Uint8Array([4]));
    const calls = fetch.mock.calls.map(([u, i]) => `${i?.method ?? "GET"} ${u}`);
    // One GET for the handle, then the writes.
    expect(calls).toEqual([
      `GET http://h/api/v1/vms/${id}`,
      `PUT http://h/api/v1/vms/${id}/files?path=%2Ftmp%2Fa+b`,
      `PUT http://h/api/v1/vms/${id}/files?path=%2Ftmp%2Fa+b`,
    ]);
  });
});

describe("streamed output", () => {
  it("joins a character split across two chunks", () => {
    const bytes = new TextEncoder().encode("héllo");
    const dec = createUtf8StreamDecoder();
    expect(dec(bytes.subarray(0, 2)) + dec(bytes.subarray(2))).toBe("héllo");
  });
});

describe("openapi", () => {
  const doc = {
    paths: {
      "/api/v1/vms/{id}": {
        parameters: [{ name: "id", in: "path", schema: { type: "string" } }],
        get: { tags: ["sandboxes"], summary: "Get a sandbox", responses: { 200: {}, 404: {} } },
        delete: { summary: "Delete" },
      },
      "/api/v1/vms": {
        post: {
          requestBody: {
            content: {
              "application/json": { schema: { $ref: "#/components/schemas/Create" } },
            },
          },
        },
      },
    },
    components: {
      schemas: {
        Create: {
          type: "object",
          properties: { name: { type: "string" }, vcpus: { type: "integer" } },
        },
      },
    },
  };
  it("lists operations with their parameters and an example body", () => {
    const ops = listOperations(doc);
    expect(ops.map((o) => o.id)).toEqual([
      "post /api/v1/vms",
      "delete /api/v1/vms/{id}",
      "get /api/v1/vms/{id}",
    ]);
    expect(ops[0]?.tag).toBe("vms");
    expect(JSON.parse(ops[0]!.bodyExample!)).toEqual({ name: "", vcpus: 0 });
    expect(ops[2]).toMatchObject({ tag: "sandboxes", responses: ["200", "404"] });
    expect(ops[2]?.parameters[0]).toMatchObject({ name: "id", in: "path", required: true });
  });
  it("fills path parameters", () => {
    expect(fillPath("/api/v1/vms/{id}/files", { id: "a/b" })).toBe("/api/v1/vms/a%2Fb/files");
  });
});
