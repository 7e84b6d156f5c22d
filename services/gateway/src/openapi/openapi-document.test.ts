import { readFile } from "node:fs/promises";
import { apiKeySchema } from "@aetherium/types";
import { beforeAll, describe, expect, it } from "vitest";
import { useGatewayFixture } from "../testing/gateway-fixture.js";
import {
  COMMITTED_OPENAPI_PATH,
  formatOpenApiDocument,
  REGENERATE_OPENAPI_COMMAND,
} from "./render-openapi.js";

// The document a real gateway (real PostgreSQL) serves is the one committed in spec/openapi.json,
// so a route change without the regenerated contract fails here with the command that fixes it.
const gw = useGatewayFixture();
let served: Record<string, unknown>;

type Operation = {
  operationId?: string;
  responses: Record<string, { description: string; content?: Record<string, unknown> }>;
};

beforeAll(async () => {
  const res = await gw.app.inject({ method: "GET", url: "/api/v1/openapi.json" });
  expect(res.statusCode).toBe(200);
  served = res.json();
});

const operations = (): [string, Operation][] =>
  Object.entries(served.paths as Record<string, Record<string, Operation>>).flatMap(
    ([route, item]) =>
      Object.entries(item).map(([method, op]): [string, Operation] => [
        `${method.toUpperCase()} ${route}`,
        op,
      ]),
  );

describe("the OpenAPI document", () => {
  it("served by the gateway is the committed spec/openapi.json", async () => {
    const committed = await readFile(COMMITTED_OPENAPI_PATH, "utf8").catch(() => "");
    const hint = `spec/openapi.json is not what GET /api/v1/openapi.json serves: run \`${REGENERATE_OPENAPI_COMMAND}\` and commit the result`;
    expect(committed, hint).toBe(formatOpenApiDocument(served));
  });

  it("names every operation with a unique operationId", () => {
    const ids = operations().map(([key, op]) => op.operationId ?? `(none on ${key})`);
    expect(ids.filter((id) => id.startsWith("(none"))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("describes the WebSocket routes as upgrades and /metrics as Prometheus text", () => {
    const ops = Object.fromEntries(operations());
    for (const key of ["GET /api/v1/vms/{id}/exec", "GET /api/v1/events"]) {
      expect(Object.keys(ops[key]?.responses ?? {}), key).toContain("101");
    }
    expect(ops["GET /metrics"]?.responses["200"]?.content).toHaveProperty(["text/plain"]);
  });

  it("gives every answer a real description and every error the envelope", () => {
    for (const [key, op] of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        expect(response.description, `${key} ${status}`).not.toBe("Default Response");
        if (Number(status) >= 400 && key !== "GET /api/v1/health") {
          expect(response.content, `${key} ${status}`).toEqual({
            "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" } },
          });
        }
      }
    }
    expect(JSON.stringify(served)).not.toMatch(/"anyOf":\[\]|"anyOf":\[\{\}/);
  });

  it("publishes the OpenAPI 3.1 document and a reference page", async () => {
    const doc = await gw.call("GET", "/api/v1/openapi.json", { key: null });
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\.1/);
    for (const p of [
      "/api/v1/vms",
      "/api/v1/vms/{id}/execute",
      "/api/v1/tasks/{id}/cancel",
      "/api/v1/api-keys",
    ]) {
      expect(Object.keys(doc.body.paths)).toContain(p);
    }
    expect(doc.body.paths["/api/v1/vms"].post.requestBody).toBeDefined();
    const page = await gw.app.inject({ method: "GET", url: "/api/v1/docs/" });
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/swagger/i);
    expect(apiKeySchema.shape.id).toBeDefined();
  });
});
