import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const depcruise = path.join(repo, "node_modules", ".bin", "depcruise");
const workspaces = [
  "libs/types",
  "libs/common",
  "libs/sdk",
  "libs/testing",
  "services/core",
  "services/agent",
  "services/worker",
  "services/gateway",
  "services/server",
  "services/cli",
  "services/k8s-manager",
  "services/dashboard",
  "infrastructure/pulumi",
  "tests/integration",
  "tests/e2e",
];

let copy: string;

/**
 * A throw-away copy of the repository's sources with its own node_modules/@aetherium links, so
 * planted imports resolve inside the copy exactly as they would in the real tree.
 */
beforeAll(async () => {
  copy = await mkdtemp(path.join(tmpdir(), "aet-boundaries-"));
  for (const f of [
    ".dependency-cruiser.cjs",
    "package.json",
    "tsconfig.base.json",
    "tsconfig.tests.json",
    "vitest.shared.ts",
  ]) {
    await cp(path.join(repo, f), path.join(copy, f));
  }
  for (const w of workspaces) {
    await cp(path.join(repo, w), path.join(copy, w), {
      recursive: true,
      filter: (src) => !/\/(node_modules|dist)(\/|$)/.test(src),
    });
  }
  await mkdir(path.join(copy, "node_modules", "@aetherium"), { recursive: true });
  for (const entry of await readdir(path.join(repo, "node_modules"))) {
    if (entry === "@aetherium" || entry === ".bin") continue;
    await symlink(path.join(repo, "node_modules", entry), path.join(copy, "node_modules", entry));
  }
  for (const w of workspaces) {
    await symlink(
      path.join(copy, w),
      path.join(copy, "node_modules", "@aetherium", path.basename(w)),
    );
  }
});

afterAll(async () => {
  if (copy) await rm(copy, { recursive: true, force: true });
});

async function check(): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout } = await run(
      depcruise,
      ["--config", ".dependency-cruiser.cjs", "--output-type", "err", "libs", "services", "tests"],
      { cwd: copy },
    );
    return { ok: true, output: stdout };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

/** Writes `files` into the copy, runs the check, and removes them again. */
async function withPlanted(files: Record<string, string>) {
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(copy, file), text);
  try {
    return await check();
  } finally {
    for (const file of Object.keys(files)) await rm(path.join(copy, file), { force: true });
  }
}

describe("npm run check:boundaries", () => {
  it("passes on the tree as it is", async () => {
    const result = await check();
    expect(result.output).not.toMatch(/error/);
    expect(result.ok).toBe(true);
  });

  it("fails when a lib imports a service", async () => {
    const r = await withPlanted({
      "libs/common/src/planted.ts": 'export { AETHERIUM_VERSION } from "@aetherium/core";\n',
    });
    expect(r.ok).toBe(false);
    expect(r.output).toContain("lib-imports-service");
  });

  it("fails when core imports the gateway", async () => {
    const r = await withPlanted({
      "services/core/src/planted.ts": 'import "@aetherium/gateway";\n',
    });
    expect(r.ok).toBe(false);
    expect(r.output).toContain("core-imports-upper-service");
  });

  it("fails when core imports the worker", async () => {
    const r = await withPlanted({
      "services/core/src/planted.ts": 'import "@aetherium/worker";\n',
    });
    expect(r.ok).toBe(false);
    expect(r.output).toContain("core-imports-upper-service");
  });

  it("fails when the gateway imports the worker or the agent", async () => {
    for (const target of ["@aetherium/worker", "@aetherium/agent"]) {
      const r = await withPlanted({
        "services/gateway/src/planted.ts": `import "${target}";\n`,
      });
      expect(r.ok).toBe(false);
      expect(r.output).toContain("gateway-imports-worker");
    }
  });

  it("fails when the guest agent imports anything of ours but types", async () => {
    for (const target of ["@aetherium/common", "@aetherium/core"]) {
      const r = await withPlanted({
        "services/agent/src/guest/planted.ts": `import "${target}";\n`,
      });
      expect(r.ok).toBe(false);
      expect(r.output).toContain("agent-imports-beyond-types");
    }
  });

  it("fails when the worker imports the gateway or the server command", async () => {
    for (const target of ["@aetherium/gateway", "@aetherium/server"]) {
      const r = await withPlanted({
        "services/worker/src/planted.ts": `import "${target}";\n`,
      });
      expect(r.ok).toBe(false);
      expect(r.output).toContain("worker-imports-upper-service");
    }
  });

  it("fails when the dashboard imports server code", async () => {
    const r = await withPlanted({
      "services/dashboard/src/planted.ts": 'import "@aetherium/core";\n',
    });
    expect(r.ok).toBe(false);
    expect(r.output).toContain("dashboard-imports-server-code");
  });

  it("fails on a relative path into another package's internals", async () => {
    const r = await withPlanted({
      "services/gateway/src/planted.ts":
        'export { Migrator } from "../../core/src/storage/migrator.js";\n',
    });
    expect(r.ok).toBe(false);
    expect(r.output).toContain("reach-into-another-package");
  });

  it("fails on a deep import that the package's exports do not offer", async () => {
    const r = await withPlanted({
      "services/gateway/src/planted.ts":
        'export { Migrator } from "@aetherium/core/src/storage/migrator.js";\n',
    });
    expect(r.ok).toBe(false);
    expect(r.output).toContain("not-to-unresolvable");
  });

  it("fails on a circular import", async () => {
    const r = await withPlanted({
      "services/core/src/planted-a.ts":
        'import { b } from "./planted-b.js";\nexport const a = () => b;\n',
      "services/core/src/planted-b.ts":
        'import { a } from "./planted-a.js";\nexport const b = () => a;\n',
    });
    expect(r.ok).toBe(false);
    expect(r.output).toContain("no-circular");
  });
});
