/**
 * The API keys page's "E2B format" choice in a real browser (Debian's Chromium through
 * playwright-core) against a real `aetherium start`: the secret shown once is shaped as the `e2b`
 * SDKs require, and the E2B control API takes it. Screenshots go to a folder it prints; the keys
 * it makes are revoked, even on failure.
 */
import { randomBytes } from "node:crypto";
import { access, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAetherium, type StartedAetherium } from "./start-aetherium.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const run = randomBytes(3).toString("hex");
const shotsDir =
  process.env.DASHBOARD_SCREENSHOTS_DIR ?? path.join(tmpdir(), `aetherium-dash-keys-${run}`);
const keyName = `e2e-e2b-key-${run}`;

let app: StartedAetherium;
let browser: Browser;
let page: Page;
const problems: string[] = [];

async function api(method: string, route: string): Promise<Response> {
  return fetch(`${app.url}/api/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${app.apiKey}` },
  });
}

const haveChromium = await access(CHROMIUM).then(
  () => true,
  () => false,
);

describe.skipIf(!haveChromium)("dashboard: API keys", () => {
  beforeAll(async () => {
    const built = path.resolve(import.meta.dirname, "../../../services/dashboard/out/index.html");
    if (
      !(await access(built).then(
        () => true,
        () => false,
      ))
    ) {
      throw new Error(`no dashboard build at ${built}: run npm run build:ui first`);
    }
    await mkdir(shotsDir, { recursive: true });
    console.log(`dashboard screenshots: ${shotsDir}`);
    app = await startAetherium({ timeoutMs: 120_000 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    await page.goto(`${app.url}/`);
    await page.getByLabel("API key", { exact: true }).fill(app.apiKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
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
    await browser?.close();
    await app?.cleanup();
    console.log(`dashboard screenshots: ${shotsDir}`);
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
    await page.screenshot({ path: path.join(shotsDir, "01-e2b-format-chosen.png") });
    await dialog.getByRole("button", { name: "Create key" }).click();

    const secret = (await page.locator("[data-secret] > span").first().textContent())?.trim() ?? "";
    expect(secret).toMatch(/^e2b_[0-9a-f]{40}$/);
    // It says where the e2b SDK should point, on this server.
    expect(await page.locator("[data-e2b-hint]").textContent()).toContain(`${app.url}/e2b`);
    await page.screenshot({ path: path.join(shotsDir, "02-e2b-key-created.png") });

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
