import { describe, expect, it } from "vitest";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

const gw = useGatewayFixture();
const call = gw.call;

describe("tasks", () => {
  it("cancels a queued task, and refuses to cancel it twice", async () => {
    const made = await call("POST", "/api/v1/vms", { body: { name: "cancel-me" } });
    const c = await call("POST", `/api/v1/tasks/${made.body.taskId}/cancel`);
    expect(c.status).toBe(200);
    expect(c.body.task.status).toBe("cancelled");
    expect((await call("POST", `/api/v1/tasks/${made.body.taskId}/cancel`)).status).toBe(409);
  });
});
