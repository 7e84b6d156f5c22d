import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAetherium, type StartedAetherium } from "./start-aetherium.js";

/*
 * The built `aether` binary as a user runs it, as a child process against a real
 * `aetherium start` with Docker sandboxes.
 */

const AETHER = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../services/cli/dist/main.js",
);

let app: StartedAetherium;
let work: string;
const name = `cli-${randomBytes(3).toString("hex")}`;
let vmId: string | undefined;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `aether args…` with the platform's URL and key unless `env` overrides them. */
function aether(
  args: string[],
  options: { env?: Record<string, string | undefined>; input?: string | Buffer; cwd?: string } = {},
): Promise<Run> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    AETHERIUM_URL: app.url,
    AETHERIUM_API_KEY: app.apiKey,
    AETHERIUM_HOME: undefined,
    NO_COLOR: "1",
    ...options.env,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const child = spawn(process.execPath, [AETHER, ...args], {
    cwd: options.cwd ?? work,
    env: env,
    stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  if (options.input !== undefined) child.stdin?.end(options.input);
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

beforeAll(async () => {
  if (!existsSync(AETHER)) throw new Error(`${AETHER} is missing: run \`npm run build\` first`);
  work = await mkdtemp(path.join(tmpdir(), "aether-e2e-"));
  app = await startAetherium({ timeoutMs: 120_000 });
  if (!/sandboxes:\s+ready on docker/.test(app.stdout())) {
    throw new Error(`these tests need Docker and the base image:\n${app.stdout()}`);
  }
}, 150_000);

afterAll(async () => {
  if (vmId) await aether(["vm", "rm", vmId]).catch(() => undefined);
  await app?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

describe("aether against a real platform", () => {
  it("vm create waits until running and --json prints the sandbox", async () => {
    const r = await aether(["vm", "create", "--name", name, "--label", "suite=cli", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { vm: { id: string; name: string; status: string } };
    vmId = doc.vm.id;
    expect(doc.vm).toMatchObject({ name, status: "running" });
  });

  it("vm create without --json shows progress on stderr and id and name on stdout", async () => {
    const other = `${name}-b`;
    const r = await aether(["vm", "create", "--name", other, "--egress", "deny-all"]);
    try {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^sandbox ${other} is running`));
      expect(r.stdout).toMatch(/^id\s+\S+$/m);
      expect(r.stdout).toMatch(new RegExp(`^name\\s+${other}$`, "m"));
      expect(r.stderr).toMatch(new RegExp(`${other}: (pending|creating)`));
      expect((await aether(["vm", "get", other])).stdout).toMatch(/^network\s+deny-all$/m);
    } finally {
      await aether(["vm", "rm", other]);
    }
  });

  it("exec prints the command's stdout and exits with its exit code", async () => {
    const hello = await aether(["exec", name, "--", "echo", "hello"]);
    expect(hello).toEqual({ code: 0, stdout: "hello\n", stderr: "" });
    const failing = await aether(["exec", name, "--", "echo oops >&2; exit 7"]);
    expect(failing).toEqual({ code: 7, stdout: "", stderr: "oops\n" });
  });

  it("exec of a missing command run directly exits 127, and of a non-executable file 126, as in a shell", async () => {
    const missing = await aether(["exec", name, "--", "nosuchcmd", "--flag"]);
    expect(missing).toEqual({ code: 127, stdout: "", stderr: "nosuchcmd: command not found\n" });
    const viaShell = await aether(["exec", name, "--", "nosuchcmd"]);
    expect(viaShell.code).toBe(127);
    const denied = await aether(["exec", name, "--", "/etc/hostname", "x"]);
    expect(denied.code).toBe(126);
    // --json: the execution record on stdout carries the same code.
    const json = await aether(["exec", name, "--json", "--", "nosuchcmd", "x"]);
    expect(json.code).toBe(127);
    expect(JSON.parse(json.stdout)).toMatchObject({ execution: { exitCode: 127 } });
  });

  it("--json errors are one JSON object on stderr with the usual exit code", async () => {
    const r = await aether(["vm", "get", "no-such-sandbox", "--json"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(JSON.parse(r.stderr)).toMatchObject({
      error: { code: "not_found", message: expect.stringMatching(/no-such-sandbox/) },
    });
    const tools = await aether(["vm", "create", "--tool", "no good", "--json"]);
    expect(tools.code).toBe(1);
    expect(JSON.parse(tools.stderr)).toMatchObject({
      error: { code: "bad_request", message: expect.stringMatching(/must be a tool spec/) },
    });
  });

  it("exec pipes stdin when it is not a terminal, and takes --env and --cwd", async () => {
    const piped = await aether(["exec", name, "--", "cat"], { input: "piped in\n" });
    expect(piped).toMatchObject({ code: 0, stdout: "piped in\n" });
    const env = await aether([
      "exec",
      name,
      "--env",
      "WHO=cli",
      "--cwd",
      "/tmp",
      "--",
      "echo $WHO $(pwd)",
    ]);
    expect(env).toMatchObject({ code: 0, stdout: "cli /tmp\n" });
  });

  it("cp copies a binary file in and back out unchanged", async () => {
    const bytes = Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 13 + 1) % 256));
    await writeFile(path.join(work, "in.bin"), bytes);
    const up = await aether(["cp", "in.bin", `${name}:/tmp/cli/in.bin`]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/copied 2048 bytes/);
    const down = await aether(["cp", `${name}:/tmp/cli/in.bin`, "out.bin"]);
    expect(down.code, down.stderr).toBe(0);
    expect(Buffer.compare(await readFile(path.join(work, "out.bin")), bytes)).toBe(0);
  });

  it("vm ls and vm get find it, as a table and as JSON", async () => {
    const table = await aether(["vm", "ls", "--label", "suite=cli"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+STATUS/);
    expect(table.stdout).toMatch(new RegExp(`^${vmId}\\s+${name}\\s+running\\s`, "m"));
    const json = await aether(["vm", "get", name, "--json"]);
    expect((JSON.parse(json.stdout) as { vm: { id: string } }).vm.id).toBe(vmId);
  });

  it("a bad key gives one helpful line and exit code 1", async () => {
    const r = await aether(["vm", "ls"], { env: { AETHERIUM_API_KEY: "ak_wrong" } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^aether: the API key from AETHERIUM_API_KEY was refused .*--api-key/);
  });

  it("without a key in flags or env it uses the embedded admin key of ./.aetherium", async () => {
    const r = await aether(["vm", "ls", "--json"], {
      env: { AETHERIUM_API_KEY: undefined },
      cwd: app.dir,
    });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { items: { id: string }[] }).items.map((v) => v.id)).toContain(
      vmId,
    );
  });

  it("a missing sandbox points at vm ls", async () => {
    const r = await aether(["exec", "no-such-sandbox", "--", "true"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /no sandbox with id or name "no-such-sandbox"; list sandboxes with `aether vm ls`/,
    );
  });

  it("shell is an interactive terminal through a real PTY, exiting with the shell's code", async () => {
    // util-linux `script` gives aether a real terminal, as a person's would be.
    const inner = [process.execPath, AETHER, "shell", name].map((a) => `'${a}'`).join(" ");
    const child = spawn("script", ["-qfec", inner, "/dev/null"], {
      cwd: work,
      env: { ...process.env, AETHERIUM_URL: app.url, AETHERIUM_API_KEY: app.apiKey },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (out += c));
    const exited = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
    const until = async (re: RegExp) => {
      for (let i = 0; i < 200 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toMatch(re);
    };
    await until(/[#$] $/m); // the sandbox shell's prompt
    child.stdin.write("echo $((6*7)); tty\n");
    await until(/^42\r?$/m);
    await until(/\/dev\/pts\/\d+/);
    child.stdin.write("exit 3\n");
    expect(await exited).toBe(3);
  });

  it("vm rm deletes it", async () => {
    const r = await aether(["vm", "rm", name]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^deleted ${name}`));
    const after = await aether(["vm", "get", vmId!, "--json"]);
    // Kept as history with status deleted: listed with --all, not without.
    expect((JSON.parse(after.stdout) as { vm: { status: string } }).vm.status).toBe("deleted");
    const names = async (args: string[]) =>
      (
        JSON.parse((await aether(["vm", "ls", "--json", ...args])).stdout) as {
          items: { name: string; status: string }[];
        }
      ).items.map((v) => v.name);
    expect(await names([])).not.toContain(name);
    expect(await names(["--all"])).toContain(name);
    vmId = undefined;
  });
});
