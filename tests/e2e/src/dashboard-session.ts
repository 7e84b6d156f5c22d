/**
 * What the dashboard's browser tests share: Debian's Chromium through playwright-core (never a
 * downloaded browser), a real `aetherium start`, a signed-in page, screenshots in a folder the
 * test prints, and the API beside the page for setting up and cleaning up.
 */
import { randomBytes } from "node:crypto";
import { access, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { expect } from "vitest";
import { startAetherium, type StartedAetherium } from "./start-aetherium.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Whether Debian's Chromium is installed (the browser tests skip without it). */
export const haveChromium = await access(CHROMIUM).then(
  () => true,
  () => false,
);

/** A signed-in dashboard on a running Aetherium, and the helpers its tests use. */
export interface DashboardSession {
  readonly app: StartedAetherium;
  readonly browser: Browser;
  readonly page: Page;
  /** Errors the page threw; a test expects none. */
  readonly problems: string[];
  readonly shotsDir: string;
  /** Calls `/api/v1<route>` with the session's admin key. */
  api(method: string, route: string, body?: unknown): Promise<Response>;
  /** Saves a screenshot of the page as `<name>.png` in `shotsDir`. */
  shot(name: string): Promise<void>;
  /** Follows the main navigation's `label` link and waits for its page's heading. */
  nav(label: string): Promise<void>;
  /** Closes the browser and stops Aetherium. */
  close(): Promise<void>;
}

/**
 * Starts Aetherium from this checkout's build (the dashboard must be built: `npm run build:ui`),
 * opens Chromium and signs in with the admin key. `shotsPrefix` names the screenshot folder.
 */
export async function openDashboardSession(shotsPrefix: string): Promise<DashboardSession> {
  const built = path.resolve(import.meta.dirname, "../../../services/dashboard/out/index.html");
  const isBuilt = await access(built).then(
    () => true,
    () => false,
  );
  if (!isBuilt) throw new Error(`no dashboard build at ${built}: run npm run build:ui first`);
  const shotsDir =
    process.env.DASHBOARD_SCREENSHOTS_DIR ??
    path.join(tmpdir(), `${shotsPrefix}-${randomBytes(3).toString("hex")}`);
  await mkdir(shotsDir, { recursive: true });
  console.log(`dashboard screenshots: ${shotsDir}`);
  const app = await startAetherium({ timeoutMs: 120_000 });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    const page = await (
      await browser.newContext({ viewport: { width: 1280, height: 800 } })
    ).newPage();
    const problems: string[] = [];
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    await page.goto(`${app.url}/`);
    await page.getByLabel("API key", { exact: true }).fill(app.apiKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    const opened = browser;
    return {
      app,
      browser: opened,
      page,
      problems,
      shotsDir,
      api: (method, route, body) =>
        fetch(`${app.url}/api/v1${route}`, {
          method,
          headers: {
            authorization: `Bearer ${app.apiKey}`,
            ...(body !== undefined ? { "content-type": "application/json" } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        }),
      async shot(name) {
        await page.waitForTimeout(300);
        await page.screenshot({ path: path.join(shotsDir, `${name}.png`) });
      },
      async nav(label) {
        await page
          .getByRole("navigation", { name: "Main" })
          .getByRole("link", { name: label, exact: true })
          .click();
        await expect
          .poll(() => page.locator("h1").first().textContent(), { timeout: 10_000 })
          .toContain(label);
      },
      async close() {
        await opened.close();
        await app.cleanup();
        console.log(`dashboard screenshots: ${shotsDir}`);
      },
    };
  } catch (err) {
    await browser?.close();
    await app.cleanup();
    throw err;
  }
}
