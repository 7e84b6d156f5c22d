import { spawn } from "node:child_process";
import { readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAetherium, type StartedAetherium } from "./start-aetherium.js";

/*
 * The README's TypeScript example, taken from README.md as it is today (never a copy of it), run
 * as a newcomer runs it: `node example.mjs` in the folder where `aetherium start` keeps its
 * state, with no AETHERIUM_API_KEY set.
 */

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** The first code block after the README's "Or from TypeScript" sentence. */
async function readmeSdkExample(): Promise<string> {
  const readme = await readFile(path.join(repo, "README.md"), "utf8");
  const at = readme.indexOf("Or from TypeScript");
  if (at < 0) throw new Error('README.md has no "Or from TypeScript" example');
  const block = /```(?:ts|typescript)\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block?.[1]) throw new Error("no ```ts block after the README's TypeScript sentence");
  return block[1];
}

let app: StartedAetherium;

beforeAll(async () => {
  app = await startAetherium({ timeoutMs: 120_000 });
  if (!/sandboxes:\s+ready on docker/.test(app.stdout())) {
    throw new Error(`this test needs Docker and the base image:\n${app.stdout()}`);
  }
}, 150_000);

afterAll(async () => {
  await app?.cleanup();
}, 60_000);

describe("the README's TypeScript SDK example", () => {
  it("runs as written beside a started Aetherium and prints the command's output and exit code 0", async () => {
    const script = path.join(app.dir, "example.mjs");
    await writeFile(script, await readmeSdkExample());
    // As in a checkout: `@aetherium/sdk` resolves through the workspace's node_modules.
    await symlink(path.join(repo, "node_modules"), path.join(app.dir, "node_modules"), "dir");
    const env: Record<string, string | undefined> = {
      ...process.env,
      AETHERIUM_URL: app.url,
      NO_COLOR: "1",
    };
    // Nothing sets the key for a newcomer: the example must find it on its own.
    delete env.AETHERIUM_API_KEY;
    const child = spawn(process.execPath, [script], {
      cwd: app.dir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 80_000);
    const code = await new Promise<number | null>((r) => child.once("close", r));
    clearTimeout(timer);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines.at(-1), stdout).toBe("0");
    expect(stdout).toMatch(/^hello from \S+$/m);
    expect(stdout).toMatch(/^git version \d/m);
    // The example cleans up after itself: its sandbox is gone.
    const res = await fetch(`${app.url}/api/v1/vms?status=running,pending`, {
      headers: { authorization: `Bearer ${app.apiKey}` },
    });
    expect(((await res.json()) as { items: unknown[] }).items).toEqual([]);
  }, 90_000);
});
