import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { copyAppTree, fingerprintAppTree, planAppTree } from "./app-tree.js";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../../../..");
const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("the Node images' application tree", () => {
  it("holds the server's production closure without the image-building tools", async () => {
    const plan = await planAppTree(root);
    expect(plan.workspaces).toEqual(
      expect.arrayContaining([
        "services/server",
        "services/gateway",
        "services/worker",
        "services/core",
        "services/dashboard",
        "libs/common",
        "libs/types",
      ]),
    );
    // Development-only workspaces stay out.
    expect(plan.workspaces).not.toContain("services/cli");
    expect(plan.workspaces).not.toContain("libs/testing");
    expect(plan.packages).toContain("node_modules/fastify");
    expect(plan.packages).toContain("node_modules/dockerode");
    expect(plan.packages).not.toContain("node_modules/vitest");
    expect(plan.packages.some((p) => p.includes("mise-linux"))).toBe(false);
    expect(await fingerprintAppTree(plan)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("runs: the copied tree starts the aetherium command with the system Node", async () => {
    const plan = await planAppTree(root);
    const target = await mkdtemp(path.join(tmpdir(), "aeth-app-"));
    dirs.push(target);
    await copyAppTree(plan, target);
    expect(await readdir(path.join(target, "services/core/migrations"))).not.toHaveLength(0);
    const { stdout } = await run(
      process.execPath,
      [path.join(target, "services/server/bin/aetherium.mjs"), "help"],
      { cwd: target, env: { PATH: process.env.PATH ?? "" }, timeout: 60_000 },
    );
    expect(stdout).toContain("usage: aetherium <command>");
    expect(stdout).toContain("cluster up|down|status");
  }, 120_000);

  it("for the manager holds its own closure, and its copied entry starts and checks its settings", async () => {
    const plan = await planAppTree(root, "services/k8s-manager");
    expect(plan.workspaces).toEqual(
      expect.arrayContaining(["services/k8s-manager", "libs/sdk", "libs/types"]),
    );
    expect(plan.workspaces).not.toContain("services/server");
    expect(plan.workspaces).not.toContain("services/dashboard");
    expect(plan.packages).toContain("node_modules/@kubernetes/client-node");
    expect(plan.packages).not.toContain("node_modules/dockerode");
    const target = await mkdtemp(path.join(tmpdir(), "aeth-mgr-"));
    dirs.push(target);
    await copyAppTree(plan, target);
    const failed = await run(
      process.execPath,
      [path.join(target, "services/k8s-manager/dist/main.js")],
      { cwd: target, env: { PATH: process.env.PATH ?? "" }, timeout: 60_000 },
    ).then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toMatch(/invalid k8s-manager settings:\n\s+AETHERIUM_URL: required/);
  }, 120_000);
});
