import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useGatewayFixture } from "../testing/gateway-fixture.js";

const gw = useGatewayFixture();

describe("the dashboard build at /", () => {
  it("serves pages per folder, redirects to the trailing slash, 404s with its own page", async () => {
    const dir = path.join(gw.home, "ui");
    await mkdir(path.join(dir, "sandboxes"), { recursive: true });
    await writeFile(path.join(dir, "index.html"), "<h1>overview</h1>");
    await writeFile(path.join(dir, "sandboxes", "index.html"), "<h1>sandboxes</h1>");
    await writeFile(path.join(dir, "404.html"), "<h1>no such page</h1>");
    const ui = await gw.open({ dashboardDir: dir });
    try {
      expect((await ui.inject({ url: "/" })).body).toContain("overview");
      const bare = await ui.inject({ url: "/sandboxes" });
      expect(bare.statusCode).toBe(301);
      expect(bare.headers.location).toBe("/sandboxes/");
      const page = await ui.inject({ url: "/sandboxes/?id=abc" });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain("sandboxes");
      const missing = await ui.inject({ url: "/no-such-page/" });
      expect(missing.statusCode).toBe(404);
      expect(missing.body).toContain("no such page");
      const api = await ui.inject({ url: "/api/v1/nothing-here" });
      expect(api.statusCode).toBe(404);
      expect(api.json()).toMatchObject({ error: { code: "not_found" } });
    } finally {
      await ui.close();
    }
  });
});
