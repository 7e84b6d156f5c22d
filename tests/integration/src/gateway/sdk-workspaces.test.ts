import { randomBytes } from "node:crypto";
import { runAether } from "@aetherium/cli";
import { Migrator, openDatabase } from "@aetherium/core";
import { AetheriumClient, NotFoundError, WorkspaceError } from "@aetherium/sdk";
import { useTestDatabase, useTestRedis } from "@aetherium/testing";
import type { Workspace } from "@aetherium/types";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway } from "../fixtures/test-gateway.js";
import { dockerSandboxesHere, startTestWorker, type TestWorker } from "../fixtures/test-worker.js";

// The SDK's and the CLI's workspace clients against a real gateway and a real Docker worker:
// preparation followed step by step from the event stream, a failing step named with its output,
// the workspace's own secrets, a prompt sent by workspace name, delete.
const here = await dockerSandboxesHere();
if (!here.ok) console.warn(`skipping workspace client tests: ${here.detail}`);

const db = useTestDatabase();
const redis = useTestRedis();
const SECRET = `tok-${randomBytes(12).toString("hex")}`;

describe.skipIf(!here.ok)("workspace clients against a real gateway and worker", () => {
  let fixture: TestWorker;
  let url: string;
  let admin: string;
  let client: AetheriumClient;
  let close: () => Promise<void>;
  /** Every response body the SDK saw, to prove no secret value ever comes back. */
  const bodies: string[] = [];

  const aether = async (argv: string[], stdin = "") => {
    let stdout = "";
    let stderr = "";
    const code = await runAether(argv, {
      stdout: { write: (c) => (stdout += typeof c === "string" ? c : Buffer.from(c).toString()) },
      stderr: { write: (c) => (stderr += typeof c === "string" ? c : Buffer.from(c).toString()) },
      stdin: Readable.from(stdin ? [stdin] : []),
      env: { AETHERIUM_URL: url, AETHERIUM_API_KEY: admin },
      cwd: fixture.home,
    });
    return { code, stdout, stderr };
  };

  beforeAll(async () => {
    const migrating = await openDatabase({ url: db.current.url });
    await new Migrator(migrating.db).up();
    await migrating.close();
    fixture = await startTestWorker("sdk-workspaces", {
      AETHERIUM_DATABASE_URL: db.current.url,
      AETHERIUM_REDIS_URL: redis.current.url,
      AETHERIUM_REDIS__KEY_PREFIX: redis.current.prefix,
      AETHERIUM_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      AETHERIUM_WORKER_ID: `sdk-workspaces-${randomBytes(4).toString("hex")}`,
    });
    const gateway = await startTestGateway(fixture, "sdk-workspaces-test", { waitTimeoutMs: 2000 });
    ({ url, admin } = gateway);
    client = new AetheriumClient({
      url,
      apiKey: admin,
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        bodies.push(await res.clone().text());
        return res;
      },
    });
    close = () => gateway.close();
  }, 300_000);

  afterAll(async () => {
    // Whatever a failed test left: its sandbox goes with it.
    const left = await client?.workspaces.list({ limit: 200 }).catch(() => undefined);
    for (const w of left?.items ?? []) {
      await client.workspaces.delete(w.id, { wait: true }).catch(() => undefined);
    }
    await close?.();
    await fixture?.close();
  }, 120_000);

  it("SDK: creates with a secret, reports each step as it starts and ends, lists, manages secrets, deletes", async () => {
    await client.environments.create({
      name: "sdk-ws-env",
      agent: { type: "custom", command: "cat" },
      setup: [
        { type: "script", run: "echo first-step" },
        { type: "script", run: "sleep 1; echo second-step" },
      ],
    });
    const seen: string[] = [];
    const w = await client.workspaces.create(
      {
        name: "sdk-ws",
        environment: "sdk-ws-env",
        secrets: [{ name: "API_TOKEN", value: SECRET }],
      },
      {
        wait: true,
        timeoutMs: 300_000,
        onProgress: (x: Workspace) =>
          seen.push(
            [x.status, ...[...x.prepSteps].sort((a, b) => a.order - b.order).map((s) => s.status)]
              .join(" ")
              .trim(),
          ),
      },
    );
    expect(w.status).toBe("ready");
    expect(seen.at(-1)).toMatch(/^ready( succeeded)+$/);
    // Progress came step by step, not only the final snapshot: some step was seen running.
    expect(seen.some((s) => s.includes("running"))).toBe(true);
    const steps = await client.workspaces.steps(w.id);
    const outputs = steps.map((s) => s.output).join("\n");
    expect(outputs).toContain("first-step");
    expect(outputs).toContain("second-step");
    for (const s of steps) {
      expect(s.status).toBe("succeeded");
      expect(s.durationMs).not.toBeNull();
    }

    // watch() on a prepared workspace yields it once and ends.
    const watched: Workspace[] = [];
    for await (const x of client.workspaces.watch("sdk-ws")) watched.push(x);
    expect(watched.map((x) => x.status)).toEqual(["ready"]);

    const ready = await client.workspaces.list({ status: "ready" });
    expect(ready.items.map((x) => x.name)).toContain("sdk-ws");
    const env = await client.environments.get("sdk-ws-env");
    const byEnv = await client.workspaces.list({ environmentId: env.id });
    expect(byEnv.items.map((x) => x.id)).toEqual([w.id]);
    expect((await client.workspaces.list({ status: "failed" })).items).toEqual([]);

    expect((await client.workspaces.listSecrets(w.id)).map((s) => s.name)).toEqual(["API_TOKEN"]);
    await client.workspaces.setSecret(w.id, { name: "OTHER", value: `${SECRET}-2` });
    expect((await client.workspaces.listSecrets(w.id)).map((s) => s.name).sort()).toEqual([
      "API_TOKEN",
      "OTHER",
    ]);
    await client.workspaces.deleteSecret(w.id, "OTHER");
    expect((await client.workspaces.listSecrets(w.id)).map((s) => s.name)).toEqual(["API_TOKEN"]);

    await client.workspaces.delete(w.id, { wait: true });
    await expect(client.workspaces.get(w.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(bodies.join("\n")).not.toContain(SECRET);
  }, 400_000);

  it("CLI: shows each step live, names the failed one with its output and exits 1", async () => {
    await client.environments.create({
      name: "cli-broken-env",
      agent: { type: "custom", command: "cat" },
      setup: [
        { type: "script", run: "echo fine" },
        { type: "script", run: "echo broken-output-here; exit 3" },
        { type: "script", run: "echo never-runs" },
      ],
    });
    const r = await aether(["ws", "create", "cli-broken", "--env", "cli-broken-env"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/✓ .+ \(\d+\.\d s\)/);
    expect(r.stderr).toMatch(/✗ /);
    expect(r.stderr).toContain("broken-output-here");
    expect(r.stderr).toMatch(/workspace cli-broken \(\S+\) failed at step /);
    expect(r.stderr).not.toContain("never-runs");

    const w = await client.workspaces.get("cli-broken");
    expect(w.status).toBe("failed");
    expect(r.stderr).toContain(`failed at step ${w.failedStep}`);
    const err = await client.workspaces.waitUntilReady(w.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkspaceError);
    expect((err as WorkspaceError).step).toBe(w.failedStep);

    const got = await aether(["ws", "get", "cli-broken"]);
    expect(got.stdout).toMatch(/status\s+failed/);
    expect(got.stdout).toContain("broken-output-here");
    const rm = await aether(["ws", "rm", "cli-broken"]);
    expect(rm.code, rm.stderr).toBe(0);
  }, 400_000);

  it("CLI: creates with a secret from stdin, prompts the agent by workspace name, removes it", async () => {
    await client.environments.create({
      name: "cli-agent-env",
      agent: {
        type: "custom",
        command: 'p=$(cat); echo "agent got: $p"; echo "token: $API_TOKEN"',
      },
    });
    const made = await aether(
      ["ws", "create", "cli-agent", "--env", "cli-agent-env", "--secret", "API_TOKEN"],
      `${SECRET}\n`,
    );
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/workspace cli-agent is ready/);

    const ls = await aether(["ws", "ls"]);
    expect(ls.stdout).toMatch(/cli-agent\s+ready\s+cli-agent-env\s+custom/);

    const p = await aether(["prompt", "cli-agent", "say hi"]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain("agent got: say hi");
    expect(p.stdout).toContain("token: [redacted]");
    expect(p.stdout + p.stderr).not.toContain(SECRET);

    const rm = await aether(["ws", "rm", "cli-agent", "--json"]);
    expect(rm.code, rm.stderr).toBe(0);
    expect((await aether(["ws", "ls", "--json"])).stdout).not.toContain("cli-agent");
  }, 400_000);
});
