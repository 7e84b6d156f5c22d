/**
 * The dashboard's Environments page in a real browser (Debian's Chromium through playwright-core)
 * against a real `aetherium start`: create an environment from the form (its validation errors
 * shown next to the fields first, then a taken name's 409), open it, delete it. Screenshots go to
 * a folder it prints; everything it creates is deleted, even on failure.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveChromium, openDashboardSession, type DashboardSession } from "./dashboard-session.js";

const run = randomBytes(3).toString("hex");
const envName = `e2e-envui-${run}`;

let session: DashboardSession;
let app: DashboardSession["app"];
let page: DashboardSession["page"];
let problems: string[];
const api: DashboardSession["api"] = (...args) => session.api(...args);
const shot: DashboardSession["shot"] = (name) => session.shot(name);
const nav: DashboardSession["nav"] = (label) => session.nav(label);

describe.skipIf(!haveChromium)("dashboard: environments", () => {
  beforeAll(async () => {
    session = await openDashboardSession("aetherium-dash-env");
    ({ app, page, problems } = session);
  }, 180_000);

  afterAll(async () => {
    if (app?.apiKey) {
      await api("DELETE", `/environments/${envName}`).catch(() => null);
    }
    await session?.close();
  }, 120_000);

  it("creates an environment from the form, showing each validation error at its field", async () => {
    await nav("Environments");
    await page.getByRole("button", { name: "New environment" }).click();
    const dialog = page.getByRole("dialog", { name: "New environment" });
    await dialog.locator('select[name="agentType"]').selectOption("custom");
    await dialog.locator('input[name="tools"]').fill("node@20 not/a/tool!");
    await dialog.locator('input[name="idleMin"]').fill("0");
    await dialog.getByRole("button", { name: "Create environment" }).click();
    // Nothing was sent: the form refuses what the API would, each message under its own field.
    await dialog.locator("#name-error").waitFor();
    expect(await dialog.locator("#agentCommand-error").textContent()).toMatch(
      /command is required/,
    );
    expect(await dialog.locator("#tools-error").textContent()).toContain('"not/a/tool!"');
    expect(await dialog.locator("#idleMin-error").textContent()).toBe("between 1 and 1440 minutes");
    expect(await dialog.locator('input[name="tools"]').getAttribute("aria-invalid")).toBe("true");
    await shot("01-environment-form-errors");
    expect(
      ((await (await api("GET", "/environments")).json()) as { items: unknown[] }).items,
    ).toEqual([]);

    await dialog.locator('input[name="name"]').fill(envName);
    await dialog.locator('input[name="agentCommand"]').fill("cat");
    await dialog.locator('input[name="tools"]').fill("");
    await dialog.locator('input[name="idleMin"]').fill("15");
    await dialog
      .locator('textarea[name="setup"]')
      .fill("echo prepared-by-$USER > /tmp/prep.txt\necho setup-done");
    await dialog.locator('textarea[name="env"]').fill("GREETING=hello");
    await dialog.getByRole("button", { name: "Create environment" }).click();
    await dialog.waitFor({ state: "detached" });
    const row = page
      .getByRole("table", { name: "Environments" })
      .locator(`[data-env-name="${envName}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toContain("custom");
    const stored = (await (await api("GET", `/environments/${envName}`)).json()) as {
      environment: { agent: unknown; idleTimeoutSec: number; env: unknown; setup: unknown[] };
    };
    expect(stored.environment).toMatchObject({
      agent: { type: "custom", command: "cat" },
      idleTimeoutSec: 900,
      env: { GREETING: "hello" },
      setup: [{ type: "script" }],
    });
    await shot("02-environments");

    // A name that is taken: the server's 409 is shown in the form, the dialog stays open.
    await page.getByRole("button", { name: "New environment" }).click();
    const again = page.getByRole("dialog", { name: "New environment" });
    await again.locator('input[name="name"]').fill(envName);
    await again.getByRole("button", { name: "Create environment" }).click();
    await again.getByRole("alert").waitFor();
    expect(await again.getByRole("alert").textContent()).toMatch(/HTTP 409/);
    await again.getByRole("button", { name: "Cancel" }).click();

    await row.getByRole("button", { name: envName }).click();
    const detail = page.getByRole("dialog", { name: envName });
    await detail.getByText("15 min").waitFor();
    await shot("03-environment-detail");
    await page.keyboard.press("Escape");
    await detail.waitFor({ state: "detached" });
    expect(problems).toEqual([]);
  }, 60_000);

  it("deletes the environment from its row", async () => {
    await nav("Environments");
    const row = page.locator(`[data-env-name="${envName}"]`);
    await row.getByRole("button", { name: "Delete" }).click();
    await page
      .getByRole("dialog", { name: `Delete ${envName}?` })
      .getByRole("button", { name: "Delete environment" })
      .click();
    await row.waitFor({ state: "detached", timeout: 10_000 });
    expect((await api("GET", `/environments/${envName}`)).status).toBe(404);
    await shot("06-environment-deleted");
  }, 30_000);
});
