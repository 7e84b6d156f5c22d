/**
 * The dashboard's Integrations page in a real browser (Debian's Chromium through playwright-core)
 * against a real `aetherium start` with GitHub and Slack configured: a signed GitHub ping, a forged
 * GitHub comment and a stale Slack command reach the gateway, and the page shows each delivery
 * with whether its signature held and its outcome, filters by provider, and shows the URLs to
 * give each provider. Screenshots go to a folder it prints.
 */
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { access, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAetherium, type StartedAetherium } from "./start-aetherium.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const run = randomBytes(3).toString("hex");
const shotsDir =
  process.env.DASHBOARD_SCREENSHOTS_DIR ?? path.join(tmpdir(), `aetherium-integrations-${run}`);
const GITHUB_SECRET = randomBytes(16).toString("hex");
const SLACK_SECRET = randomBytes(16).toString("hex");
const PING_ID = randomUUID();
const FORGED_ID = randomUUID();

let app: StartedAetherium;
let browser: Browser;
let page: Page;
const problems: string[] = [];

const haveChromium = await access(CHROMIUM).then(
  () => true,
  () => false,
);

async function github(event: string, payload: unknown, delivery: string, secret: string) {
  const body = JSON.stringify(payload);
  const mac = createHmac("sha256", secret).update(body).digest("hex");
  return fetch(`${app.url}/api/v1/integrations/github/webhook`, {
    method: "POST",
    body,
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": delivery,
      "x-hub-signature-256": `sha256=${mac}`,
    },
  });
}

describe.skipIf(!haveChromium)("the Integrations page in a browser", () => {
  beforeAll(async () => {
    await mkdir(shotsDir, { recursive: true });
    app = await startAetherium({
      timeoutMs: 120_000,
      env: {
        AETHERIUM_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET,
        AETHERIUM_SLACK_SIGNING_SECRET: SLACK_SECRET,
      },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.cleanup();
    console.log(`integrations screenshots: ${shotsDir}`);
  }, 60_000);

  it("shows verified and refused deliveries, filters them, and says where to point providers", async () => {
    expect(
      (await github("ping", { zen: "Practicality beats purity." }, PING_ID, GITHUB_SECRET)).status,
    ).toBe(200);
    const comment = {
      action: "created",
      issue: { number: 1 },
      comment: { id: 1, body: "/aether run rm -rf /" },
      repository: { full_name: "acme/widgets", name: "widgets", owner: { login: "acme" } },
    };
    expect((await github("issue_comment", comment, FORGED_ID, "guessed")).status).toBe(401);
    const slackBody =
      "command=%2Faether&text=ls&response_url=https%3A%2F%2Fexample.invalid%2Fr&trigger_id=t1";
    const ts = String(Math.floor(Date.now() / 1000) - 600);
    const sig = createHmac("sha256", SLACK_SECRET).update(`v0:${ts}:${slackBody}`).digest("hex");
    const stale = await fetch(`${app.url}/api/v1/integrations/slack/commands`, {
      method: "POST",
      body: slackBody,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-signature": `v0=${sig}`,
        "x-slack-request-timestamp": ts,
      },
    });
    expect(stale.status).toBe(401);

    await page.goto(`${app.url}/`);
    await page.getByLabel("API key", { exact: true }).fill(app.apiKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Integrations", exact: true })
      .click();
    await page.getByRole("heading", { name: "Integrations" }).waitFor();

    const ping = page.locator(`tr[data-delivery-id="${PING_ID}"]`);
    await ping.waitFor();
    await expect.poll(() => ping.textContent()).toMatch(/github.*ping.*verified.*answered/);
    const forged = page.locator(`tr[data-delivery-id="${FORGED_ID}"]`);
    await expect.poll(() => forged.textContent()).toMatch(/issue_comment.*not verified.*refused/);
    await expect.poll(() => forged.textContent()).toContain("X-Hub-Signature-256 does not match");
    await expect
      .poll(() => page.locator("[data-connect-url=github]").textContent())
      .toBe(`${app.url}/api/v1/integrations/github/webhook`);
    await page.screenshot({ path: path.join(shotsDir, "integrations.png") });

    await page.getByLabel("Provider").selectOption("slack");
    await expect.poll(() => page.locator("tbody tr").count()).toBe(1);
    await expect
      .poll(() => page.locator("tbody tr").first().textContent())
      .toMatch(/slack.*slash_command.*not verified.*refused.*five minutes/);
    await page.screenshot({ path: path.join(shotsDir, "integrations-slack.png") });
    expect(problems).toEqual([]);
  });
});
