import { createEvent } from "@aetherium/types";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

const gw = useGatewayFixture({ listen: true, server: { streamRecheckMs: 100 } });
const call = gw.call;

describe("events WebSocket", () => {
  function connect(query: string, protocols: string[]) {
    const ws = new WebSocket(`${gw.url.replace("http", "ws")}/api/v1/events${query}`, protocols);
    const got: { type: string }[] = [];
    ws.on("message", (d: Buffer) => got.push(JSON.parse(d.toString("utf8")) as { type: string }));
    return {
      ws,
      got,
      open: new Promise<void>((res, rej) => (ws.once("open", () => res()), ws.once("error", rej))),
    };
  }

  it("streams events filtered by topic, authenticated by subprotocol", async () => {
    const vmOnly = connect("?topics=vm", ["aetherium.v1", `bearer.${gw.admin}`]);
    const all = connect("", ["aetherium.v1", `bearer.${gw.admin}`]);
    await Promise.all([vmOnly.open, all.open]);
    expect(vmOnly.ws.protocol).toBe("aetherium.v1");
    await gw.runtime.bus.publish(createEvent("worker.joined", { worker: { id: "w-x" } } as never));
    const made = await call("POST", "/api/v1/vms", { body: { name: "evented" } });
    for (let i = 0; i < 100 && !vmOnly.got.some((e) => e.type === "vm.created"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(vmOnly.got.map((e) => e.type)).toContain("vm.created");
    expect(vmOnly.got.every((e) => e.type.startsWith("vm."))).toBe(true);
    expect(all.got.map((e) => e.type)).toEqual(
      expect.arrayContaining(["worker.joined", "vm.created"]),
    );
    expect(JSON.stringify(vmOnly.got)).toContain(made.body.vm.id);
    vmOnly.ws.close();
    all.ws.close();
  });

  it("closes a stream when its key is revoked, here or on another gateway", async () => {
    const mk = async (name: string) =>
      (await call("POST", "/api/v1/api-keys", { body: { name } })).body as {
        apiKey: { id: string };
        secret: string;
      };
    const here = await mk("stream-here");
    const elsewhere = await mk("stream-elsewhere");
    const a = connect("", ["aetherium.v1", `bearer.${here.secret}`]);
    const b = connect("", ["aetherium.v1", `bearer.${elsewhere.secret}`]);
    await Promise.all([a.open, b.open]);
    const closed = (ws: WebSocket) =>
      new Promise<{ code: number; reason: string }>((res) =>
        ws.once("close", (code, reason) => res({ code, reason: reason.toString() })),
      );
    const aClosed = closed(a.ws);
    const bClosed = closed(b.ws);
    expect((await call("DELETE", `/api/v1/api-keys/${here.apiKey.id}`)).status).toBe(204);
    expect(await aClosed).toEqual({ code: 1008, reason: "API key revoked" });
    // Revoked behind this gateway's back, as another gateway would: found by the sweep.
    await gw.runtime.repos.apiKeys.revoke(elsewhere.apiKey.id);
    expect(await bClosed).toEqual({ code: 1008, reason: "API key revoked" });
  });

  it("refuses a WebSocket without a key", async () => {
    const c = connect("", []);
    await expect(c.open).rejects.toThrow(/401/);
  });
});
