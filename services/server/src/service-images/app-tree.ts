/**
 * The application tree of the Node service images: the server package and every workspace
 * package it depends on (their `package.json` and built `dist/`, plus the few files they read at
 * run time), and the third-party packages in its production dependency closure — laid out as in
 * the checkout, so relative paths (migrations, the dashboard build) resolve the same way.
 * @module
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, cp, lstat, mkdir, readdir, realpath, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Packages in the closure that only build the sandbox image (its mise binary, 150 MB): images are
 * built on the host, never inside a service container, and nothing imports it (it is found by
 * path when an image is built), so it stays out.
 */
const HOST_ONLY_PACKAGES: readonly string[] = ["@jdxcode/mise-linux-x64"];

/** The workspace packages an image is built around: the `aetherium` command, or the manager. */
export type AppEntry = "services/server" | "services/k8s-manager";

/** Per workspace package, what besides `package.json` it needs at run time. */
const RUNTIME_PATHS = ["dist", "bin", "migrations", "out"] as const;

/** The plan of an application tree: what is copied from where. */
export interface AppTreePlan {
  /** The checkout's root. */
  readonly root: string;
  /** Workspace package directories, relative to `root` (`services/gateway`). */
  readonly workspaces: readonly string[];
  /** Third-party package directories, relative to `root` (`node_modules/pg`). */
  readonly packages: readonly string[];
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Lists the production dependency closure of the workspace `entry` (default `services/server`)
 * from npm's own view of the installed tree (`npm ls --omit=dev --all --parseable`), split into
 * workspace packages and third-party ones. With the server, the dashboard's static build rides
 * along: the gateway serves it.
 */
export async function planAppTree(
  root: string,
  entry: AppEntry = "services/server",
): Promise<AppTreePlan> {
  const { stdout } = await run("npm", ["ls", "--omit=dev", "--all", "--parseable", "-w", entry], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: { stdout?: string; message: string }) => {
    // npm ls exits 1 on extraneous or missing optional packages yet still lists the tree.
    if (typeof err.stdout === "string" && err.stdout.length > 0) return { stdout: err.stdout };
    throw new Error(`cannot list the production dependencies: ${err.message}`);
  });
  const workspaces = new Set<string>(
    entry === "services/server" ? [entry, "services/dashboard"] : [entry],
  );
  const packages = new Set<string>();
  for (const line of stdout.split("\n")) {
    if (line.trim() === "" || path.resolve(line) === path.resolve(root)) continue;
    const real = await realpath(line).catch(() => line);
    const rel = path.relative(root, real);
    if (rel.startsWith("..")) continue;
    if (!rel.split(path.sep).includes("node_modules")) {
      workspaces.add(rel);
      continue;
    }
    const name = rel.replace(/^.*node_modules\//, "");
    if (HOST_ONLY_PACKAGES.includes(name)) continue;
    packages.add(rel);
  }
  // A nested package is copied with its parent; listing it again would copy it twice.
  const sorted = [...packages].sort();
  const top = sorted.filter(
    (p) => !sorted.some((q) => q !== p && p.startsWith(`${q}${path.sep}node_modules${path.sep}`)),
  );
  return { root, workspaces: [...workspaces].sort(), packages: top };
}

/**
 * A cheap fingerprint of everything the tree would hold: each copied path with its size and
 * modification time. Changes when a rebuild or an install changes a file; the image build keys
 * its cache on it.
 */
export async function fingerprintAppTree(plan: AppTreePlan): Promise<string> {
  const hash = createHash("sha256");
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else {
        const s = await lstat(full);
        hash.update(`${path.relative(plan.root, full)}\0${s.size}\0${s.mtimeMs}\n`);
      }
    }
  };
  for (const ws of plan.workspaces) {
    hash.update(`ws ${ws}\n`);
    await walk(path.join(plan.root, ws)).catch(() => undefined);
  }
  for (const p of plan.packages) {
    hash.update(`pkg ${p}\n`);
    const s = await lstat(path.join(plan.root, p, "package.json")).catch(() => undefined);
    hash.update(`${s?.size ?? 0}\0${s?.mtimeMs ?? 0}\n`);
  }
  return hash.digest("hex");
}

/**
 * Copies the planned tree into `target` (the image's `/app`): workspace packages with only what
 * runs, third-party packages whole, and `node_modules/@aetherium/<name>` links to the workspace
 * folders as npm makes them. Fails when a workspace's `dist/` is missing (build first).
 */
export async function copyAppTree(plan: AppTreePlan, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  const links: [string, string][] = [];
  for (const ws of plan.workspaces) {
    const from = path.join(plan.root, ws);
    if (!(await exists(path.join(from, "dist"))) && ws !== "services/dashboard") {
      throw new Error(`${ws} is not built: run \`npm run build\` first`);
    }
    await mkdir(path.join(target, ws), { recursive: true });
    await cp(path.join(from, "package.json"), path.join(target, ws, "package.json"));
    for (const sub of RUNTIME_PATHS) {
      if (await exists(path.join(from, sub))) {
        await cp(path.join(from, sub), path.join(target, ws, sub), {
          recursive: true,
          filter: (src) => !src.endsWith(".tsbuildinfo") && !src.endsWith(".map"),
        });
      }
    }
    links.push([`node_modules/@aetherium/${path.basename(ws)}`, ws]);
  }
  for (const p of plan.packages) {
    await mkdir(path.dirname(path.join(target, p)), { recursive: true });
    await cp(path.join(plan.root, p), path.join(target, p), {
      recursive: true,
      verbatimSymlinks: true,
    });
  }
  for (const [link, ws] of links) {
    const at = path.join(target, link);
    await mkdir(path.dirname(at), { recursive: true });
    await symlink(path.relative(path.dirname(at), path.join(target, ws)), at);
  }
  // The root package.json marks the tree as ES modules for the shim and names the workspaces.
  await writeFile(
    path.join(target, "package.json"),
    `${JSON.stringify({ name: "aetherium-app", private: true, type: "module", workspaces: plan.workspaces }, null, 2)}\n`,
  );
}
