import { describe, expect, it } from "vitest";
import { useCliTestGateway } from "../testing/cli-test-gateway.js";

// `aether ws` against a real gateway on a real runtime with no worker: workspaces are recorded
// and listed, but none is prepared (that path, with its live steps, runs against a worker in
// tests/integration/src/gateway/cli-workspaces.test.ts).
const gw = useCliTestGateway("ws");
const aether = gw.aether;

describe("aether ws", () => {
  it("creates from an environment with secrets from stdin, lists, shows by name and deletes", async () => {
    const env = await aether(["env", "create", "cli-ws-env", "--agent", "claude-code"]);
    expect(env.code, env.stderr).toBe(0);

    const made = await aether(
      [
        "ws",
        "create",
        "cli-ws",
        "--env",
        "cli-ws-env",
        "--secret",
        "API_TOKEN",
        "--secret",
        "DB_PASSWORD",
        "--no-wait",
        "--json",
      ],
      "tok-1\npw-2\n",
    );
    expect(made.code, made.stderr).toBe(0);
    const { workspace } = JSON.parse(made.stdout) as { workspace: { id: string; status: string } };
    expect(workspace.status).toBe("creating");
    expect(made.stdout).not.toMatch(/tok-1|pw-2/);

    const ls = await aether(["ws", "ls"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/NAME\s+STATUS\s+ENVIRONMENT\s+AGENT/);
    expect(ls.stdout).toMatch(/cli-ws\s+creating\s+cli-ws-env\s+claude-code/);

    const got = await aether(["ws", "get", "cli-ws"]);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toContain(`id           ${workspace.id}`);
    expect(got.stdout).toMatch(/status\s+creating/);

    const secrets = await aether(["ws", "secret", "ls", "cli-ws"]);
    expect(secrets.code, secrets.stderr).toBe(0);
    expect(secrets.stdout).toMatch(/API_TOKEN/);
    expect(secrets.stdout).toMatch(/DB_PASSWORD/);
    expect(secrets.stdout).not.toMatch(/tok-1|pw-2/);

    const rm = await aether(["ws", "rm", "cli-ws"]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stderr).toContain(`deleted workspace cli-ws (${workspace.id})`);
    const gone = await aether(["ws", "get", workspace.id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/list workspaces with `aether ws ls`/);
  });

  it("sets, lists and deletes a workspace's own secrets, never printing a value", async () => {
    await aether(["env", "create", "cli-ws-env2", "--agent", "amp"]);
    const made = await aether(["ws", "create", "cli-ws2", "--env", "cli-ws-env2", "--no-wait"]);
    expect(made.code, made.stderr).toBe(0);

    const set = await aether(["ws", "secret", "set", "cli-ws2", "NPM_TOKEN"], "npm-secret\n");
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/set secret NPM_TOKEN of workspace cli-ws2/);
    const ls = await aether(["ws", "secret", "ls", "cli-ws2", "--json"]);
    const { items } = JSON.parse(ls.stdout) as { items: { name: string }[] };
    expect(items.map((s) => s.name)).toEqual(["NPM_TOKEN"]);
    expect(ls.stdout).not.toContain("npm-secret");
    // A workspace secret is not a global one.
    expect((await aether(["secret", "ls"])).stdout).not.toContain("NPM_TOKEN");

    const rm = await aether(["ws", "secret", "rm", "cli-ws2", "NPM_TOKEN"]);
    expect(rm.code, rm.stderr).toBe(0);
    expect((await aether(["ws", "secret", "ls", "cli-ws2"])).stdout).not.toContain("NPM_TOKEN");
    await aether(["ws", "rm", "cli-ws2"]);
  });

  it("refuses bad input clearly and creates nothing", async () => {
    await aether(["env", "create", "cli-ws-env3", "--agent", "amp"]);
    const unknownEnv = await aether(["ws", "create", "x1", "--env", "no-such-env", "--no-wait"]);
    expect(unknownEnv.code).toBe(1);
    expect(unknownEnv.stderr).toMatch(/no-such-env/);

    const badName = await aether(["ws", "create", "Bad Name!", "--env", "cli-ws-env3"]);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/name/);

    const twice = await aether(
      ["ws", "create", "x2", "--env", "cli-ws-env3", "--secret", "A", "--secret", "A"],
      "1\n2\n",
    );
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/--secret A is given twice/);

    const lines = await aether(
      ["ws", "create", "x3", "--env", "cli-ws-env3", "--secret", "A", "--secret", "B"],
      "only-one\n",
    );
    expect(lines.code).toBe(2);
    expect(lines.stderr).toMatch(/stdin has 1 line\(s\) for 2 secrets \(A, B\)/);

    const ls = await aether(["ws", "ls", "--json"]);
    expect((JSON.parse(ls.stdout) as { items: unknown[] }).items).toEqual([]);

    const prompt = await aether(["prompt", "no-such-ws", "hello"]);
    expect(prompt.code).toBe(1);
    expect(prompt.stderr).toMatch(/no workspace with id or name "no-such-ws"/);
  });

  it("gives up waiting after --timeout when no worker prepares it, naming its status", async () => {
    await aether(["env", "create", "cli-ws-env4", "--agent", "amp"]);
    const r = await aether(["ws", "create", "cli-ws4", "--env", "cli-ws-env4", "--timeout", "2s"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cli-ws4 .* is still (creating|preparing) after 2000 ms/);
    await aether(["ws", "rm", "cli-ws4"]);
  });
});
