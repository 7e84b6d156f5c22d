import { errorResponseSchema } from "@aetherium/types";
import { describe, expect, it } from "vitest";
import { expectEnvelope, useGatewayFixture, type Method } from "../testing/gateway-fixture.js";

const gw = useGatewayFixture();
const call = gw.call;

describe("validation and errors", () => {
  it("answers bad input on every route with a 4xx envelope, never a 500", async () => {
    const vm = (await call("POST", "/api/v1/vms", { body: { name: "bad-input" } })).body.vm as {
      id: string;
    };
    const cases: [Method, string, unknown, number][] = [
      ["POST", "/api/v1/vms", { backend: "vmware" }, 400],
      ["POST", "/api/v1/vms", { labels: { "bad key!": "x" } }, 400],
      ["POST", "/api/v1/vms", { tools: ["not a tool spec"] }, 400],
      ["POST", "/api/v1/vms?wait=perhaps", {}, 400],
      ["GET", "/api/v1/vms?label=novalue", undefined, 400],
      ["GET", "/api/v1/vms?limit=-3", undefined, 400],
      ["POST", `/api/v1/vms/${vm.id}/timeout`, { timeoutSec: "soon" }, 400],
      ["POST", `/api/v1/vms/${vm.id}/timeout`, {}, 400],
      ["POST", `/api/v1/vms/${vm.id}/stop`, { force: "yes" }, 400],
      ["POST", `/api/v1/vms/${vm.id}/execute`, { command: "" }, 400],
      ["POST", `/api/v1/vms/${vm.id}/execute`, { command: "ls", timeoutMs: 0 }, 400],
      ["POST", `/api/v1/vms/${vm.id}/execute`, { command: "ls", cwd: "relative" }, 400],
      ["POST", `/api/v1/vms/${vm.id}/execute`, { command: "ls", user: "no spaces" }, 400],
      ["POST", `/api/v1/vms/${vm.id}/execute?async=maybe`, { command: "ls" }, 400],
      ["GET", `/api/v1/vms/${vm.id}/files`, undefined, 400],
      ["GET", `/api/v1/vms/${vm.id}/files?path=relative/x`, undefined, 400],
      ["GET", `/api/v1/vms/${vm.id}/files?path=/a/../b`, undefined, 400],
      ["GET", `/api/v1/vms/${vm.id}/files/list`, undefined, 400],
      ["DELETE", `/api/v1/vms/${vm.id}/files?path=/x&recursive=sure`, undefined, 400],
      ["GET", `/api/v1/vms/${vm.id}/files?path=/etc/hostname`, undefined, 409],
      ["GET", `/api/v1/vms/${vm.id}/executions?cursor=zzz`, undefined, 400],
      ["GET", "/api/v1/vms/no-such-vm/executions", undefined, 404],
      ["GET", "/api/v1/tasks?status=done", undefined, 400],
      ["GET", "/api/v1/tasks?type=vm:explode", undefined, 400],
      ["POST", "/api/v1/tasks/no-such-task/cancel", undefined, 404],
      ["GET", "/api/v1/workers?status=sleepy", undefined, 400],
      ["POST", "/api/v1/workers/no-such-worker/drain", undefined, 404],
      ["POST", "/api/v1/workers/no-such-worker/activate", undefined, 404],
      ["POST", "/api/v1/api-keys", { name: "" }, 400],
      ["POST", "/api/v1/api-keys", { name: "k", scopes: ["root"] }, 400],
      ["POST", "/api/v1/api-keys", { name: "k", scopes: [] }, 400],
      ["DELETE", "/api/v1/api-keys/no-such-key", undefined, 404],
      ["GET", "/api/v1/api-keys?includeRevoked=often", undefined, 400],
    ];
    for (const [method, route, body, status] of cases) {
      const r = await call(method, route, body === undefined ? {} : { body });
      expect(r.status, `${method} ${route} ${JSON.stringify(body)}`).toBe(status);
      errorResponseSchema.parse(r.body);
    }
  });

  it("answers malformed JSON with 400, not 500", async () => {
    const r = await call("POST", "/api/v1/vms", { raw: '{"name": ' });
    expect(r.status).toBe(400);
    expectEnvelope(r.body, "bad_request");
  });

  it("answers an oversized body with 413", async () => {
    const r = await call("POST", "/api/v1/vms", {
      raw: JSON.stringify({ name: "x".repeat(11 * 1024 * 1024) }),
    });
    expect(r.status).toBe(413);
    expectEnvelope(r.body, "payload_too_large");
  });

  it("answers unknown ids with 404 and bad cursors with 400", async () => {
    expectEnvelope((await call("GET", "/api/v1/vms/nope")).body, "not_found");
    expectEnvelope(
      (await call("GET", "/api/v1/tasks/0b6c5f0e-9d7e-4a43-8d2e-0e0f4b4b7a11")).body,
      "not_found",
    );
    expectEnvelope((await call("GET", "/api/v1/workers/nope")).body, "not_found");
    expectEnvelope((await call("GET", "/api/v1/executions/nope")).body, "not_found");
    const bad = await call("GET", "/api/v1/vms?cursor=%%%garbage");
    expect(bad.status).toBe(400);
    expectEnvelope(bad.body, "bad_request");
    expect((await call("GET", "/api/v1/vms?limit=zero")).status).toBe(400);
    expect((await call("GET", "/api/v1/vms?status=sleeping")).status).toBe(400);
  });

  it("answers an unknown route with 404 and the request id", async () => {
    const r = await call("GET", "/api/v1/no-such-thing", { headers: { "x-request-id": "req-7" } });
    expect(r.status).toBe(404);
    expect(r.body.requestId).toBe("req-7");
    expect(r.headers["x-request-id"]).toBe("req-7");
  });
});
