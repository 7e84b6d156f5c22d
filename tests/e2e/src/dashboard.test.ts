/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against a real
 * `aetherium start`: gateway + worker + Docker sandboxes, the dashboard served by the gateway at `/`.
 *
 * It logs in with the admin key, creates a sandbox from the dialog (whose backend select offers
 * only the backends the fleet offers) and watches it turn running without a reload, types
 * `echo hello` into the terminal, browses files (starting in `/root`, no Delete in `/proc`,
 * `/sys`, `/dev`, ages people can read), uploads a file and reads it back, sees
 * the closed terminal recorded as closed and left out of the latency chart, sees why a sandbox
 * waits (a worker with no vCPUs left for it), runs a command in the console, deletes the sandbox
 * and watches it disappear, and revokes a key and is logged out. Every page is screenshotted at
 * 1280×800 (and a few on a narrow screen and in the light theme) into a folder it prints. Every
 * sandbox it creates is deleted, even on failure.
 */
import { randomBytes } from "node:crypto";
import { access, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAetherium, type StartedAetherium } from "./start-aetherium.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const run = randomBytes(3).toString("hex");
const shotsDir =
  process.env.DASHBOARD_SCREENSHOTS_DIR ?? path.join(tmpdir(), `aetherium-dashboard-${run}`);
const sandboxName = `e2e-dash-${run}`;
const keyName = `e2e-revoke-${run}`;
const FILE_TEXT = `hello from the dashboard test ${run}\n`;
/** An age as a person reads it: never "3753 h ago". */
const READABLE_AGE =
  /^(just now|([1-9]|[1-5]\d) min ago|([1-9]|1\d|2[0-3]) h ago|[1-6] days? ago|\d{1,2} [A-Z][a-z]{2}( \d{4})?)$/;

let app: StartedAetherium;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

/**
 * What the page-side callbacks touch (this file is compiled without the DOM library). They run in
 * the page, so they may not call helpers of this file: only type assertions, which vanish.
 */
interface PageGlobals {
  __noReload?: number;
  document: { querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }> };
}

async function api(method: string, route: string, body?: unknown): Promise<Response> {
  return fetch(`${app.url}/api/v1${route}`, {
    method,
    headers: {
      authorization: `Bearer ${app.apiKey}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function shot(name: string, p: Page = page): Promise<void> {
  // Let charts measure themselves and relative times settle.
  await p.waitForTimeout(400);
  await p.screenshot({ path: path.join(shotsDir, `${name}.png`) });
}

/** Client-side navigation through the sidebar, as a person would. */
async function nav(label: string): Promise<void> {
  await page
    .getByRole("navigation", { name: "Main" })
    .getByRole("link", { name: label, exact: true })
    .click();
  await expect
    .poll(() => page.locator("h1").first().textContent(), { timeout: 10_000 })
    .toContain(label);
}

async function openSandboxDetail(): Promise<void> {
  await nav("Sandboxes");
  await page.getByRole("link", { name: sandboxName, exact: true }).click();
  await page.getByRole("tab", { name: "Overview" }).waitFor();
}

const haveChromium = await access(CHROMIUM).then(
  () => true,
  () => false,
);

describe.skipIf(!haveChromium)("dashboard in a browser", () => {
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
    // A worker that offers 2 vCPUs, so a 2-vCPU sandbox next to the first one waits and says why.
    app = await startAetherium({
      timeoutMs: 120_000,
      env: { AETHERIUM_WORKER__CAPACITY__VCPUS: "2" },
    });
    expect(app.apiKey, "the admin key from <home>/admin.key").not.toBe("");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  }, 180_000);

  afterAll(async () => {
    // Delete every sandbox this run created, whatever happened above.
    if (app?.apiKey) {
      const list = await api("GET", `/vms?label=e2e=${run}&limit=500`).catch(() => null);
      const body = list?.ok
        ? ((await list.json()) as { items: { id: string; status: string }[] })
        : null;
      for (const vm of body?.items ?? []) {
        if (vm.status !== "deleted")
          await api("DELETE", `/vms/${vm.id}?wait=true`).catch(() => null);
      }
      const keys = await api("GET", "/api-keys?limit=500").catch(() => null);
      const kb = keys?.ok
        ? ((await keys.json()) as { items: { id: string; name: string }[] })
        : null;
      for (const k of kb?.items ?? []) {
        if (k.name === keyName) await api("DELETE", `/api-keys/${k.id}`).catch(() => null);
      }
    }
    await browser?.close();
    await app?.cleanup();
    console.log(`dashboard screenshots: ${shotsDir}`);
  }, 120_000);

  it("asks for an API key and logs in with one", async () => {
    await page.goto(`${app.url}/`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await shot("01-login");
    await page.getByLabel("API key", { exact: true }).fill("not-a-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("That key was not accepted by the gateway.").waitFor();
    await page.getByLabel("API key", { exact: true }).fill(app.apiKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    // The live stream connects (no polling loop needed).
    await page.locator('[data-live-state="open"]').first().waitFor({ timeout: 15_000 });
    await page.getByText("Workers healthy").waitFor();
    await expect.poll(() => page.locator(".stat-value").last().textContent()).toMatch(/^1\/1$/);
    await shot("02-overview");
  });

  it("creates a sandbox from the dialog and sees it turn running without reloading", async () => {
    await nav("Sandboxes");
    await shot("03-sandboxes-before");
    await page.evaluate(() => ((globalThis as unknown as PageGlobals).__noReload = 42));
    await page.getByRole("button", { name: "New sandbox" }).click();
    const dialog = page.getByRole("dialog", { name: "New sandbox" });
    // The backend select offers "auto (default)" and only what the fleet offers now.
    const offer = (await (await api("GET", "/backends")).json()) as {
      backends: { backend: string; offered: boolean }[];
    };
    const offered = offer.backends.filter((b) => b.offered).map((b) => b.backend);
    const notOffered = offer.backends.filter((b) => !b.offered).map((b) => b.backend);
    expect(offered).toContain("docker");
    expect(notOffered.length, "workers implement only some backends").toBeGreaterThan(0);
    const select = dialog.locator('select[name="backend"]');
    await expect
      .poll(() => select.locator("option").evaluateAll((os) => os.length), { timeout: 10_000 })
      .toBe(1 + offered.length);
    const options = await select
      .locator("option")
      .evaluateAll((os: { value: string; textContent: string | null }[]) =>
        os.map((o): [string, string] => [o.value, o.textContent ?? ""]),
      );
    expect(options).toEqual([["", "auto (default)"], ...offered.map((b) => [b, b])]);
    await dialog.getByLabel("Name").fill(sandboxName);
    await dialog.getByLabel("Labels").fill(`e2e=${run}, team=dashboard`);
    await dialog.getByLabel("Timeout").fill("30");
    await dialog.locator('textarea[name="env"]').fill("GREETING=hello");
    // The network choice: an allow-list asks for its destinations (shown, then set back).
    await dialog.getByLabel("Network").selectOption("allow-list");
    await dialog.getByLabel("Allowed destinations").fill("registry.npmjs.org *.github.com");
    await shot("04-create-dialog");
    await dialog.getByLabel("Network").selectOption("");
    await dialog.getByLabel("Allowed destinations").waitFor({ state: "detached" });
    await dialog.getByRole("button", { name: "Create sandbox" }).click();
    await dialog.waitFor({ state: "detached" });
    const row = page.locator(`tr[data-vm-name="${sandboxName}"]`);
    await row.waitFor();
    await row.locator('[data-status="running"]').waitFor({ timeout: 120_000 });
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).__noReload)).toBe(42);
    await shot("05-sandboxes-running");
  }, 180_000);

  it("runs echo hello in the terminal and sees hello", async () => {
    await openSandboxDetail();
    await shot("06-sandbox-overview");
    await page.getByRole("tab", { name: "Terminal" }).click();
    await page.locator('[data-terminal-state="open"]').waitFor({ timeout: 30_000 });
    await page.locator(".terminal .xterm").click();
    await page.keyboard.type("echo hello");
    await page.keyboard.press("Enter");
    const rows = () =>
      page.evaluate(() =>
        Array.from(
          (globalThis as unknown as PageGlobals).document.querySelectorAll(".xterm-rows > div"),
        ).map((d) => (d.textContent ?? "").trimEnd()),
      );
    // The command line echoes "echo hello"; its output is a line that is exactly "hello".
    await expect.poll(rows, { timeout: 20_000 }).toContain("hello");
    await shot("07-terminal");
  }, 60_000);

  it("opens the files in /root, offers no Delete in /proc, /sys and /dev, and shows readable ages", async () => {
    // Leaving the terminal closes its shell (checked with the executions below).
    await page.getByRole("tab", { name: "Files" }).click();
    await expect.poll(() => page.getByLabel("Go to path").inputValue()).toBe("/root");
    await page.locator('nav[aria-label="Path"]').getByRole("button", { name: "root" }).waitFor();
    await page.getByRole("button", { name: "Upload", exact: true }).waitFor();

    await page.getByLabel("Go to path").fill("/");
    await page.getByRole("button", { name: "Go", exact: true }).click();
    await page.locator('tr[data-file="proc"]').waitFor({ timeout: 20_000 });
    for (const dir of ["proc", "sys", "dev"]) {
      const row = page.locator(`tr[data-file="${dir}"]`);
      await row.waitFor();
      expect(await row.getByRole("button", { name: /^Delete/ }).count(), dir).toBe(0);
    }
    // An ordinary folder still can be deleted (when empty).
    expect(
      await page.locator('tr[data-file="tmp"]').getByRole("button", { name: "Delete tmp" }).count(),
    ).toBe(1);
    const ages = await page.getByRole("table", { name: "Files" }).locator("time").allTextContents();
    expect(ages.length).toBeGreaterThan(5);
    for (const age of ages) expect(age).toMatch(READABLE_AGE);
    await shot("08a-files-root");

    // Devices: shown, but no upload into /dev and no View, Download or Delete on a device or a
    // link to one.
    await page.getByRole("button", { name: "dev/" }).click();
    await page.locator('tr[data-file="null"]').waitFor({ timeout: 20_000 });
    await page.getByTestId("files-read-only").waitFor();
    expect(await page.getByRole("button", { name: "Upload", exact: true }).count()).toBe(0);
    expect(await page.locator('tr[data-file="null"] button').count()).toBe(0);
    expect(await page.locator('tr[data-file="stdin"] button').count()).toBe(0);
    await shot("08b-files-dev");
  }, 60_000);

  it("uploads a file, reads it back and deletes it", async () => {
    await page.getByLabel("Go to path").fill("/tmp");
    await page.getByRole("button", { name: "Go", exact: true }).click();
    await page.locator('nav[aria-label="Path"]').getByRole("button", { name: "tmp" }).waitFor();
    await page.getByLabel("Upload files").setInputFiles({
      name: "greeting.txt",
      mimeType: "text/plain",
      buffer: Buffer.from(FILE_TEXT),
    });
    const row = page.locator('tr[data-file="greeting.txt"]');
    await row.waitFor({ timeout: 20_000 });
    await row.getByRole("button", { name: "View" }).click();
    await expect
      .poll(() => page.locator('[data-file-preview="/tmp/greeting.txt"]').textContent())
      .toBe(FILE_TEXT);
    await shot("08-files");
    // The same bytes through the API: the upload really landed in the sandbox.
    const vms = (await (await api("GET", `/vms?label=e2e=${run}`)).json()) as {
      items: { id: string }[];
    };
    const res = await api("GET", `/vms/${vms.items[0]!.id}/files?path=/tmp/greeting.txt`);
    expect(await res.text()).toBe(FILE_TEXT);
    // And it can be deleted from the browser.
    await row.getByRole("button", { name: "Delete greeting.txt" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete", exact: true }).click();
    await row.waitFor({ state: "detached", timeout: 20_000 });
  }, 60_000);

  it("shows the closed terminal as closed, not failed, and leaves it out of the latency chart", async () => {
    const vms = (await (await api("GET", `/vms?label=e2e=${run}`)).json()) as {
      items: { id: string; name: string }[];
    };
    const vmId = vms.items.find((v) => v.name === sandboxName)?.id ?? "";
    const ran = await fetch(`${app.url}/api/v1/vms/${vmId}/execute`, {
      method: "POST",
      headers: { authorization: `Bearer ${app.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ command: "echo charted" }),
    });
    expect(ran.status).toBe(200);
    interface Row {
      command: string;
      error: string | null;
      durationMs: number | null;
      pty: boolean;
    }
    const executions = async () =>
      ((await (await api("GET", `/vms/${vmId}/executions?limit=100`)).json()) as { items: Row[] })
        .items;
    // The shell the Terminal tab opened ended when the tab was left: a deliberate close.
    await expect
      .poll(async () => (await executions()).find((e) => e.pty)?.error ?? "running", {
        timeout: 20_000,
      })
      .toBe("closed by client");
    const all = await executions();
    const charted = all.filter((e) => !e.pty && e.error === null && e.durationMs !== null).length;
    expect(charted).toBeGreaterThan(0);
    expect(all.filter((e) => e.durationMs !== null).length).toBeGreaterThan(charted);

    await page.getByRole("tab", { name: "Executions" }).click();
    const table = page.getByRole("table", { name: "Executions" });
    await table.waitFor({ timeout: 20_000 });
    const shell = table
      .locator("tr", { has: page.getByRole("button", { name: /^(ba)?sh -l$/ }) })
      .first();
    await expect.poll(() => shell.locator("td.num").first().textContent()).toBe("closed");
    await shell.getByText("terminal", { exact: true }).waitFor();
    await page.getByText(new RegExp(`^last ${charted} · p50`)).waitFor();
    await shot("09-executions");
  }, 60_000);

  it("shows why a sandbox waits", async () => {
    const res = await fetch(`${app.url}/api/v1/vms`, {
      method: "POST",
      headers: { authorization: `Bearer ${app.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: `${sandboxName}-waits`, vcpus: 2, labels: { e2e: run } }),
    });
    expect(res.status).toBe(202);
    const { vm } = (await res.json()) as { vm: { id: string; status: string } };
    expect(vm.status).toBe("pending");
    try {
      await nav("Sandboxes");
      await page.getByRole("link", { name: `${sandboxName}-waits`, exact: true }).click();
      await expect
        .poll(() => page.getByTestId("pending-reason").textContent(), { timeout: 20_000 })
        .toMatch(/^waiting for capacity: all 1 worker full for 2 vCPUs/);
      await shot("09b-sandbox-waiting");
    } finally {
      await api("DELETE", `/vms/${vm.id}?wait=true`);
    }
  }, 60_000);

  it("runs a command in the console and streams its output", async () => {
    await nav("Console");
    await page.getByLabel("Sandbox").selectOption({ label: sandboxName });
    await page.getByLabel("Command").fill("echo console-$((40+2)) && echo oops >&2");
    await page.getByRole("button", { name: "Run" }).click();
    const out = page.locator("[data-console-output]");
    await expect.poll(() => out.textContent(), { timeout: 20_000 }).toContain("console-42");
    await expect.poll(() => out.textContent()).toMatch(/\[exit 0 · /);
    expect(await out.locator(".err").first().textContent()).toContain("oops");
    await shot("10-console");
  }, 60_000);

  it("shows tasks, a task's detail, workers and the pages for later APIs", async () => {
    await nav("Tasks");
    await page.getByRole("table", { name: "Tasks" }).waitFor();
    await shot("11-tasks");
    await page.getByRole("link", { name: "vm:create" }).first().click();
    await page.getByRole("heading", { name: "Payload" }).waitFor();
    await shot("12-task-detail");
    await nav("Workers");
    await page.locator("[data-worker-id]").first().waitFor();
    await page.getByRole("link", { name: new RegExp(`^${sandboxName}`) }).waitFor();
    await shot("13-workers");
    const envName = `e2e-env-${run}`;
    const made = await api("POST", "/environments", {
      name: envName,
      repo: { url: "https://git.example.test/acme/app.git" },
      tools: ["node@20"],
      agent: { type: "claude-code" },
    });
    expect(made.status).toBe(201);
    await nav("Environments");
    const row = page
      .getByRole("table", { name: "Environments" })
      .getByRole("row", { name: new RegExp(envName) });
    await row.waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toContain("https://git.example.test/acme/app.git");
    await shot("14-environments");
    expect((await api("DELETE", `/environments/${envName}`)).status).toBe(204);
    for (const [label, file] of [
      ["Workspaces", "15-workspaces"],
      ["Prompts", "16-prompts"],
    ] as const) {
      await nav(label);
      await page.locator(".card .state").first().waitFor({ timeout: 10_000 });
      await shot(file);
    }
  }, 60_000);

  it("pages through more tasks than one page holds with Show more", async () => {
    const vms = (await (await api("GET", `/vms?label=e2e=${run}`)).json()) as {
      items: { id: string; name: string }[];
    };
    const vmId = vms.items.find((v) => v.name === sandboxName)?.id ?? "";
    expect(vmId).not.toBe("");
    // 205 queued commands: more than the 200 rows of the dashboard's first page. Sent 15 at a time.
    for (let sent = 0; sent < 205; sent += 15) {
      await Promise.all(
        Array.from({ length: Math.min(15, 205 - sent) }, async () => {
          const r = await fetch(`${app.url}/api/v1/vms/${vmId}/execute?async=true`, {
            method: "POST",
            headers: { authorization: `Bearer ${app.apiKey}`, "content-type": "application/json" },
            body: JSON.stringify({ command: "true" }),
          });
          expect(r.status).toBe(202);
        }),
      );
    }
    const countTasks = async (status?: string) => {
      const q = `/tasks?vmId=${vmId}&type=vm:execute&limit=500${status ? `&status=${status}` : ""}`;
      return ((await (await api("GET", q)).json()) as { items: unknown[] }).items.length;
    };
    const total = await countTasks();
    expect(total).toBeGreaterThan(200);

    await nav("Tasks");
    await page.getByLabel("Type").selectOption("vm:execute");
    await page.getByLabel("Sandbox id").fill(vmId);
    const rows = page.getByRole("table", { name: "Tasks" }).locator("tbody tr");
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(200);
    await page.getByRole("button", { name: "Show more" }).click();
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(total);
    await page.getByRole("button", { name: "Show more" }).waitFor({ state: "detached" });
    await shot("12b-tasks-more");
    // Let the queued commands finish before the next tests use the sandbox.
    await expect
      .poll(async () => (await countTasks("queued")) + (await countTasks("running")), {
        timeout: 90_000,
        interval: 500,
      })
      .toBe(0);
  }, 150_000);

  it("lists the OpenAPI routes and calls one", async () => {
    await nav("API explorer");
    const health = page.locator("details.op", { hasText: "/api/v1/health" }).first();
    await health.waitFor({ timeout: 15_000 });
    await health.locator("summary").click();
    await health.getByRole("button", { name: "Send request" }).click();
    await health.locator(".badge", { hasText: "200" }).waitFor();
    await shot("17-api-explorer");
  });

  it("shows the settings, the light theme and a narrow screen", async () => {
    await nav("Settings");
    await shot("18-settings");
    // Whichever theme the system chose first, the other one looks right too.
    const toggle = page.getByRole("button", { name: /^Switch to (light|dark)$/ });
    const other = (await toggle.textContent())?.includes("light") ? "light" : "dark";
    await toggle.click();
    await nav("Overview");
    await shot(`19-overview-${other}`);
    await nav("Sandboxes");
    await shot(`19-sandboxes-${other}`);
    await nav("Settings");
    await page.getByRole("button", { name: /^Switch to (light|dark)$/ }).click();

    const narrow = await context.newPage();
    await narrow.setViewportSize({ width: 390, height: 844 });
    await narrow.goto(`${app.url}/`);
    await narrow.getByRole("heading", { name: "Overview" }).waitFor();
    await shot("20-narrow-overview", narrow);
    await narrow.getByRole("button", { name: "Open navigation" }).click();
    await shot("21-narrow-menu", narrow);
    await narrow
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Sandboxes", exact: true })
      .click();
    await narrow.locator(`tr[data-vm-name="${sandboxName}"]`).waitFor();
    await shot("22-narrow-sandboxes", narrow);
    await narrow.close();
  }, 60_000);

  it("stops, starts and extends the sandbox from its page, live", async () => {
    await openSandboxDetail();
    const status = (s: string) => page.locator(`h1 [data-status="${s}"]`);
    await page.getByRole("button", { name: "Stop", exact: true }).click();
    await status("stopped").waitFor({ timeout: 60_000 });
    await page.getByRole("button", { name: "Start", exact: true }).click();
    await status("running").waitFor({ timeout: 60_000 });
    await page.getByRole("button", { name: "Extend timeout" }).click();
    await page.getByRole("dialog").getByLabel("Minutes from now").fill("90");
    await page.getByRole("dialog").getByRole("button", { name: "Set timeout" }).click();
    // 90 minutes from now, in whole hours as every age reads (the tooltip has the exact time).
    await page.locator("time", { hasText: /^in 1 h$/ }).waitFor();
    await shot("22b-sandbox-extended");
  }, 150_000);

  it("deletes the sandbox and sees it disappear", async () => {
    await openSandboxDetail();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete sandbox" }).click();
    await page.getByRole("heading", { name: "Sandboxes" }).waitFor();
    await page
      .locator(`tr[data-vm-name="${sandboxName}"]`)
      .waitFor({ state: "detached", timeout: 60_000 });
    await shot("23-sandboxes-after-delete");
  }, 90_000);

  it("creates a key (secret shown once), and a browser signed in with it is logged out once it is revoked", async () => {
    await nav("API keys");
    await page.getByRole("table", { name: "API keys" }).waitFor();
    await page.getByRole("button", { name: "New key" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Name").fill(keyName);
    await dialog.getByRole("button", { name: "Create key" }).click();
    const secret = (await page.locator("[data-secret] > span").first().textContent())?.trim() ?? "";
    expect(secret.length).toBeGreaterThan(16);
    await shot("24-api-key-created");
    await page.getByRole("button", { name: "I have copied it" }).click();
    await page.locator(`tr[data-key-name="${keyName}"]`).waitFor();
    expect(await page.getByText(secret).count()).toBe(0);
    await shot("25-api-keys");

    // Someone else signs in with the new key, in a browser of their own.
    const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const theirs = await other.newPage();
    await theirs.goto(`${app.url}/`);
    await theirs.getByLabel("API key", { exact: true }).fill(secret);
    await theirs.getByRole("button", { name: "Sign in" }).click();
    await theirs.getByRole("heading", { name: "Overview" }).waitFor();

    // The admin revokes it; their next request is refused and they are back at the login screen.
    await page
      .locator(`tr[data-key-name="${keyName}"]`)
      .getByRole("button", { name: "Revoke" })
      .click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
    await page.locator(`tr[data-key-name="${keyName}"]`).waitFor({ state: "detached" });
    // Whichever comes first logs them out: their event stream closed by the revocation (1008),
    // or their next request. Only click on if the stream has not done it already (the nav link
    // is gone once they are out, and a click on it would wait for nothing).
    const signIn = theirs.getByRole("heading", { name: "Sign in" });
    if (!(await signIn.isVisible())) {
      await theirs
        .getByRole("navigation", { name: "Main" })
        .getByRole("link", { name: "Sandboxes", exact: true })
        .click({ timeout: 5_000 })
        .catch(() => undefined);
    }
    await signIn.waitFor({ timeout: 20_000 });
    await theirs.getByText("no longer accepted").waitFor();
    await shot("26-logged-out", theirs);
    await other.close();
    const res = await fetch(`${app.url}/api/v1/vms`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(res.status).toBe(401);
  }, 60_000);

  it("serves every page at its own address, so links and reloads work", async () => {
    for (const route of ["/sandboxes/", "/tasks/", "/workers/", "/api-keys/", "/settings/"]) {
      const res = await page.goto(`${app.url}${route}`);
      expect(res?.status(), route).toBe(200);
      await page.getByRole("navigation", { name: "Main" }).waitFor();
    }
  }, 60_000);

  it("had no uncaught errors in the page", () => {
    expect(problems).toEqual([]);
  });
});
