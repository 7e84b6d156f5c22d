/**
 * The API keys page's "E2B format" choice in a real browser (Debian's Chromium through
 * playwright-core) against a real `aetherium start`: the secret shown once is shaped as the `e2b`
 * SDKs require, and the E2B control API takes it. Screenshots go to a folder it prints; the keys
 * it makes are revoked, even on failure.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveChromium, openDashboardSession, type DashboardSession } from "./dashboard-session.js";

const run = randomBytes(3).toString("hex");
const keyName = `e2e-e2b-key-${run}`;

let session: DashboardSession;
let app: DashboardSession["app"];
let page: DashboardSession["page"];
let problems: string[];
const api: DashboardSession["api"] = (...args) => session.api(...args);

describe.skipIf(!haveChromium)("dashboard: API keys", () => {
  beforeAll(async () => {
    session = await openDashboardSession("aetherium-dash-keys");
    ({ app, page, problems } = session);
  }, 180_000);

  afterAll(async () => {
    if (app?.apiKey) {
      const keys = await api("GET", "/api-keys?limit=500").catch(() => null);
      const items = keys?.ok
        ? ((await keys.json()) as { items: { id: string; name: string }[] }).items
        : [];
      for (const k of items) {
        if (k.name === keyName) await api("DELETE", `/api-keys/${k.id}`).catch(() => null);
      }
    }
    await session?.close();
  }, 120_000);

  it("creates an E2B-format key, shown once, that the e2b control API takes", async () => {
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "API keys", exact: true })
      .click();
    await page.getByRole("button", { name: "New key" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill(keyName);
    const aetherium = dialog.getByRole("radio", { name: /^Aetherium/ });
    expect(await aetherium.isChecked()).toBe(true);
    await dialog.getByRole("radio", { name: /^E2B format/ }).check();
    await session.shot("01-e2b-format-chosen");
    await dialog.getByRole("button", { name: "Create key" }).click();

    const secret = (await page.locator("[data-secret] > span").first().textContent())?.trim() ?? "";
    expect(secret).toMatch(/^e2b_[0-9a-f]{40}$/);
    // It says where the e2b SDK should point, on this server.
    expect(await page.locator("[data-e2b-hint]").textContent()).toContain(`${app.url}/e2b`);
    await session.shot("02-e2b-key-created");

    // The key works where the e2b SDK sends it, and only as itself.
    const listed = await fetch(`${app.url}/e2b/sandboxes`, { headers: { "x-api-key": secret } });
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual([]);
    const wrong = await fetch(`${app.url}/e2b/sandboxes`, {
      headers: { "x-api-key": `e2b_${"0".repeat(40)}` },
    });
    expect(wrong.status).toBe(401);

    // Shown once: gone from the page once the dialog is closed.
    await page.getByRole("button", { name: "I have copied it" }).click();
    await page.locator(`tr[data-key-name="${keyName}"]`).waitFor();
    expect(await page.getByText(secret).count()).toBe(0);
    expect(problems).toEqual([]);
  }, 120_000);
});
