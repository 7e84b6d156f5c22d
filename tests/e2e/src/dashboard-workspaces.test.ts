/**
 * The dashboard's Workspaces page in a real browser (Debian's Chromium through playwright-core)
 * against a real `aetherium start` with its Docker worker: an environment made through the API
 * (a stand-in custom agent, one setup step), a workspace made in the create dialog with a secret,
 * its preparation steps followed to ready without a reload, a prompt sent from the workspace whose
 * answer streams into the terminal (the secret shown redacted), then the workspace deleted.
 * Screenshots go to a folder it prints; everything it creates is deleted, even on failure.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haveChromium, openDashboardSession, type DashboardSession } from "./dashboard-session.js";

const run = randomBytes(3).toString("hex");
const envName = `e2e-wsenv-${run}`;
const wsName = `e2e-wsui-${run}`;
const SECRET = `tok-${randomBytes(10).toString("hex")}`;
// The stand-in agent: reads the prompt from stdin, streams a few lines over time, shows the
// secret it was given (the stream must show it redacted) and exits 0.
const AGENT =
  'p=$(cat); echo "agent got: $p"; echo "secret: $API_TOKEN"; ' +
  'for i in 1 2 3; do echo "chunk $i"; sleep 1; done; echo "answer done"';

let session: DashboardSession;
let app: DashboardSession["app"];
let page: DashboardSession["page"];
let problems: string[];
const api: DashboardSession["api"] = (...args) => session.api(...args);
const shot: DashboardSession["shot"] = (name) => session.shot(name);
const nav: DashboardSession["nav"] = (label) => session.nav(label);

describe.skipIf(!haveChromium)("dashboard: workspaces", () => {
  beforeAll(async () => {
    session = await openDashboardSession("aetherium-dash-ws");
    ({ app, page, problems } = session);
  }, 180_000);

  afterAll(async () => {
    if (app?.apiKey) {
      const list = await api("GET", "/workspaces?limit=200").catch(() => null);
      const body = list?.ok
        ? ((await list.json()) as { items: { id: string; name: string }[] })
        : null;
      for (const w of body?.items ?? []) {
        if (w.name === wsName)
          await api("DELETE", `/workspaces/${w.id}?wait=true`).catch(() => null);
      }
      await api("DELETE", `/environments/${envName}`).catch(() => null);
    }
    await session?.close();
  }, 120_000);

  it("makes a workspace in the dialog, follows its preparation live, streams a prompt's answer, deletes it", async () => {
    const made = await api("POST", "/environments", {
      name: envName,
      agent: { type: "custom", command: AGENT },
      setup: [{ type: "script", run: "echo prepared-by-$(id -un); echo setup-done" }],
    });
    expect(made.status, await made.clone().text()).toBe(201);

    await nav("Workspaces");
    await page.evaluate(() => ((globalThis as unknown as { __noReload?: number }).__noReload = 7));
    expect(await page.locator("main").textContent()).not.toMatch(/not available/i);
    await page.getByRole("button", { name: "New workspace" }).click();
    const dialog = page.getByRole("dialog", { name: "New workspace" });
    // The form refuses what the API would, each message at its field, and sends nothing.
    await dialog.getByRole("button", { name: "Add secret" }).click();
    await dialog.locator('input[name="secret-name-0"]').fill("not a name");
    await dialog.getByRole("button", { name: "Create workspace" }).click();
    await dialog.locator("#ws-name-error").waitFor();
    await dialog
      .getByText(/POSIX|environment variable|letters/i)
      .first()
      .waitFor();
    await shot("01-create-errors");
    expect(
      ((await (await api("GET", "/workspaces")).json()) as { items: unknown[] }).items,
    ).toEqual([]);

    await dialog.locator('input[name="name"]').fill(wsName);
    await dialog.locator('select[name="environment"]').selectOption(envName);
    await dialog.locator('input[name="secret-name-0"]').fill("API_TOKEN");
    await dialog.locator('input[name="secret-value-0"]').fill(SECRET);
    expect(await dialog.locator('input[name="secret-value-0"]').getAttribute("type")).toBe(
      "password",
    );
    await dialog.getByRole("button", { name: "Create workspace" }).click();

    // The detail page opens and follows preparation to ready, no reload.
    await page.getByRole("heading", { name: new RegExp(wsName) }).waitFor({ timeout: 10_000 });
    await shot("02-workspace-preparing");
    await page.locator('h1 [data-status="ready"]').waitFor({ timeout: 240_000 });
    const steps = page.getByRole("list", { name: "Preparation steps" });
    await steps.locator('[data-step-status="succeeded"]').first().waitFor();
    expect(await steps.locator('[data-step-status="failed"]').count()).toBe(0);
    await steps.locator("summary").first().click();
    await expect.poll(() => steps.textContent()).toContain("setup-done");
    expect(await steps.textContent()).toMatch(/\d+(\.\d+)? ?(ms|s)/);
    expect(
      await page.evaluate(() => (globalThis as unknown as { __noReload?: number }).__noReload),
    ).toBe(7);
    await shot("03-workspace-ready");

    // The secret is stored by name only: no answer carries its value.
    const ws = (await (await api("GET", `/workspaces/${wsName}`)).json()) as {
      workspace: { id: string };
    };
    const secrets = await (await api("GET", `/workspaces/${ws.workspace.id}/secrets`)).text();
    expect(secrets).toContain("API_TOKEN");
    expect(secrets).not.toContain(SECRET);

    // From the workspace to its prompt session: the answer streams into the terminal.
    await page.getByRole("link", { name: "Send a prompt" }).click();
    await page.getByRole("heading", { name: "Prompts", exact: true }).waitFor();
    await page.getByLabel("Prompt", { exact: true }).fill("hello from the browser");
    await page.getByRole("button", { name: "Send prompt" }).click();
    const terminal = page.getByRole("log", { name: "Agent output" });
    try {
      await expect
        .poll(() => terminal.locator(".xterm-rows").textContent(), { timeout: 120_000 })
        .toContain("agent got: hello from the browser");
    } catch (err) {
      // Say what the prompt became, not only that no answer showed.
      await shot("04-prompt-missing");
      const state = await page.getByTestId("prompt-state").textContent();
      const prompts = await (await api("GET", `/workspaces/${ws.workspace.id}/prompts`)).text();
      throw new Error(`no answer shown; state "${state}"; prompts ${prompts}`, { cause: err });
    }
    await expect
      .poll(() => terminal.locator(".xterm-rows").textContent(), { timeout: 30_000 })
      .toContain("chunk 3");
    await expect
      .poll(() => page.getByTestId("prompt-state").textContent(), { timeout: 30_000 })
      .toMatch(/^completed · exit 0/);
    const shown = (await terminal.locator(".xterm-rows").textContent()) ?? "";
    expect(shown).toContain("secret: [redacted]");
    expect(shown).not.toContain(SECRET);
    await shot("04-prompt-answered");

    // The Prompts page opens a workspace by name too (an unknown one is said so).
    await nav("Prompts");
    const field = page.getByLabel("Workspace id or name");
    await field.fill("no-such-workspace");
    await page.getByRole("button", { name: "Open" }).click();
    await page.getByRole("alert").filter({ hasText: "no-such-workspace" }).waitFor();
    await field.fill(wsName);
    await page.getByRole("button", { name: "Open" }).click();
    await page.waitForURL(`**/prompts/?workspace=${ws.workspace.id}`);
    await page
      .getByRole("table", { name: "Prompts" })
      .getByText("hello from the browser")
      .waitFor();

    // The list shows it ready with its environment; delete it from its page.
    await nav("Workspaces");
    const row = page.locator(`[data-ws-name="${wsName}"]`);
    await row.locator('[data-status="ready"]').waitFor();
    expect(await row.locator('[data-col="environment"]').textContent()).toBe(envName);
    await shot("05-workspaces");
    await page.getByRole("link", { name: wsName }).click();
    await page.getByRole("button", { name: "Delete workspace" }).click();
    await page
      .getByRole("dialog", { name: `Delete ${wsName}?` })
      .getByRole("button", { name: "Delete workspace" })
      .click();
    await page.getByRole("heading", { name: "Workspaces", exact: true }).waitFor();
    await expect
      .poll(async () => page.locator(`[data-ws-name="${wsName}"]`).count(), { timeout: 60_000 })
      .toBe(0);
    await expect
      .poll(async () => (await api("GET", `/workspaces/${ws.workspace.id}`)).status, {
        timeout: 60_000,
      })
      .toBe(404);
    await shot("06-workspace-deleted");
    expect(problems).toEqual([]);
  }, 480_000);
});
