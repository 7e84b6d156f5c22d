/**
 * `aetherium image build`: the base sandbox image, built from Debian packages (there is no
 * registry to pull from) in three cached layers, each redone only when its inputs change:
 *
 * 1. base rootfs: `debootstrap --variant=minbase` of bookworm, keyed by suite, package list and
 *    mirror (tens of seconds cold, then reused);
 * 2. rootfs tree: the base hard-linked (`cp -al`, no data copied) plus Node, mise and the guest
 *    agent, keyed by the base key and the content hashes of those three files;
 * 3. Docker image: the tree streamed through `tar` into the engine's import API, labelled with the
 *    tree key; skipped when an image with that label exists.
 *
 * The microVM backends take layer 2 ({@link buildRootfsTree}) and make an ext4 image of it.
 * @module
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  access,
  chmod,
  constants,
  copyFile,
  mkdir,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { createInterface } from "node:readline";
import Docker from "dockerode";
import { AETHERIUM_VERSION } from "@aetherium/types";
import { DEFAULT_BASE_IMAGE } from "@aetherium/core";
import { buildAgentSnapshot, isSnapshotCapableBundle } from "./build-agent.js";
import { mapDockerError } from "../docker/docker-errors.js";
import { detectDebianMirror } from "./debian-mirror.js";
import { withDirLock } from "./dir-lock.js";
import {
  BASE_PACKAGES,
  BASE_SUITE,
  IMAGE_PATHS,
  INPUT_HASH_LABEL,
  SANDBOX_USER,
} from "./image-layout.js";

// Bump when the layout of a layer changes without its inputs changing, to invalidate caches.
const BASE_LAYOUT_VERSION = 2;
// 2: the agent is a CommonJS script (agent.cjs) with a startup snapshot beside it.
const TREE_LAYOUT_VERSION = 2;

/** One progress report. `percent` is of the current step, when known. */
export interface ImageBuildProgress {
  step: "lock" | "mirror" | "rootfs" | "tree" | "import";
  message: string;
  percent?: number;
}

/** Options for {@link buildBaseRootfs}. */
export interface BaseRootfsOptions {
  /** Directory for the cached layers; must be on a filesystem that allows hard links between them. */
  cacheDir: string;
  /** Debian mirror; default: the one this machine's apt sources use for the suite. */
  mirror?: string;
  /** Packages to include; default {@link BASE_PACKAGES}. */
  packages?: readonly string[];
  /**
   * Where debootstrap keeps the packages it downloads (`--cache-dir`), so rootfs trees of other
   * package sets fetch only what they add. Default: none, each build downloads everything.
   */
  packageCacheDir?: string;
  /**
   * Whether the tree gets {@link SANDBOX_USER} with passwordless sudo (needs `sudo` among the
   * packages). Default: only with the default packages, i.e. for the sandbox image.
   */
  sandboxUser?: boolean;
  onProgress?: (progress: ImageBuildProgress) => void;
}

/** A built layer on disk. */
export interface BuiltLayer {
  /** The directory holding the root filesystem. Shared by hard links: treat it as read-only. */
  dir: string;
  /** Hash of everything that went into it. */
  key: string;
  /** True when it was already there and nothing was built. */
  cached: boolean;
}

/** Options for {@link buildRootfsTree}. */
export interface RootfsTreeOptions extends BaseRootfsOptions {
  /**
   * The bundled guest agent (`services/worker/dist-agent/agent.cjs`), a CommonJS script. When it is
   * a real agent bundle (not a stub) the tree also gets its startup snapshot, built with
   * `nodeBinary`.
   */
  agentFile: string;
  /** The Node binary copied into the image; default this process's (`process.execPath`). */
  nodeBinary?: string;
  /** The mise binary; default the one from `@jdxcode/mise-linux-x64`. */
  miseBinary?: string;
}

/** Options for {@link buildBaseImage}. */
export interface BaseImageOptions extends RootfsTreeOptions {
  /** Image tag; default {@link DEFAULT_BASE_IMAGE}. */
  tag?: string;
  /** Docker client; default one on `/var/run/docker.sock`. */
  docker?: Docker;
}

/** The result of {@link buildBaseImage}. */
export interface BaseImage {
  /** Image id (`sha256:…`). */
  imageId: string;
  tag: string;
  /** The tree key, also the image's {@link INPUT_HASH_LABEL} label. */
  inputHash: string;
  /** The rootfs tree the image was made from. */
  rootfsDir: string;
  /** Which layers were reused. */
  cached: { rootfs: boolean; tree: boolean; image: boolean };
}

/** The mise binary installed with this package, or undefined when the optional package is absent. */
export function defaultMiseBinary(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return path.join(
      path.dirname(require.resolve("@jdxcode/mise-linux-x64/package.json")),
      "bin",
      "mise",
    );
  } catch {
    return undefined;
  }
}

function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function exists(file: string): Promise<boolean> {
  return access(file, constants.F_OK).then(
    () => true,
    () => false,
  );
}

/** Runs a command, feeding each output line to `onLine`; rejects with its last lines on failure. */
function run(command: string, args: readonly string[], onLine?: (line: string) => void) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const take = (line: string) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      onLine?.(line);
    };
    createInterface({ input: child.stdout }).on("line", take);
    createInterface({ input: child.stderr }).on("line", take);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `${command} ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${tail.join("\n")}`,
          ),
        );
    });
  });
}

/** Keeps the `keep` newest entries of `dir` (by mtime) besides `current`, removing the rest. */
async function prune(dir: string, current: string, keep: number): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n !== path.basename(current));
  const withTimes = await Promise.all(
    names.map(async (name) => ({ name, mtime: (await stat(path.join(dir, name))).mtimeMs })),
  );
  withTimes.sort((a, b) => b.mtime - a.mtime);
  for (const { name } of withTimes.slice(keep)) {
    await rm(path.join(dir, name), { recursive: true, force: true });
  }
}

// debootstrap's phases, in order, with where each starts on a 0–100 scale.
const DEBOOTSTRAP_PHASES: readonly [RegExp, number][] = [
  [/^I: Retrieving/, 0],
  [/^I: Validating/, 15],
  [/^I: (Resolving|Found)/, 30],
  [/^I: Extracting/, 40],
  [/^I: (Installing|Unpacking)/, 55],
  [/^I: Configuring/, 80],
  [/^I: Base system installed/, 100],
];

/**
 * Layer 1: the debootstrapped Debian tree, built once per (suite, packages, mirror) and kept in
 * `cacheDir/base/<key>`. Needs root and `debootstrap`. Built in a `.partial` directory and renamed
 * into place, so a build killed half-way never leaves a tree that looks finished.
 */
export async function buildBaseRootfs(options: BaseRootfsOptions): Promise<BuiltLayer> {
  const report = options.onProgress ?? (() => {});
  const packages = [...(options.packages ?? BASE_PACKAGES)].sort();
  const sandboxUser = options.sandboxUser ?? options.packages === undefined;
  const mirror = options.mirror ?? (await detectDebianMirror(BASE_SUITE));
  report({ step: "mirror", message: `Debian mirror ${mirror}` });
  const key = sha256(
    JSON.stringify({
      layout: BASE_LAYOUT_VERSION,
      suite: BASE_SUITE,
      variant: "minbase",
      arch: process.arch,
      packages,
      mirror,
      ...(sandboxUser ? { sandboxUser } : {}),
    }),
  ).slice(0, 32);
  const baseDir = path.join(options.cacheDir, "base");
  const dir = path.join(baseDir, key);
  if (await exists(dir)) {
    report({ step: "rootfs", message: `reusing cached rootfs ${key}`, percent: 100 });
    return { dir, key, cached: true };
  }
  if (process.getuid?.() !== 0) {
    throw new Error("building the base rootfs needs root (debootstrap, device nodes, chown)");
  }
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(baseDir, { recursive: true });
  report({ step: "rootfs", message: `debootstrap ${BASE_SUITE} from ${mirror}`, percent: 0 });
  let percent = 0;
  if (options.packageCacheDir !== undefined) {
    await mkdir(options.packageCacheDir, { recursive: true });
  }
  const args = [
    "--variant=minbase",
    ...(options.packageCacheDir !== undefined
      ? [`--cache-dir=${path.resolve(options.packageCacheDir)}`]
      : []),
    `--include=${packages.join(",")}`,
    BASE_SUITE,
    partial,
    mirror,
  ];
  try {
    await run("debootstrap", args, (line) => {
      const phase = DEBOOTSTRAP_PHASES.find(([re]) => re.test(line));
      if (phase !== undefined && phase[1] > percent) percent = phase[1];
      if (line.startsWith("I: ") || line.startsWith("W: ") || line.startsWith("E: ")) {
        report({ step: "rootfs", message: line.slice(3), percent });
      }
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error("debootstrap is not installed: run scripts/ensure-docker.sh", { cause: err });
    }
    throw err;
  }
  // Downloaded .debs and package lists are stale the day after and weigh ~100 MB.
  for (const sub of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
    for (const name of await readdir(path.join(partial, sub)).catch(() => [] as string[])) {
      if (name !== "partial" && name !== "lock") {
        await rm(path.join(partial, sub, name), { recursive: true, force: true });
      }
    }
  }
  // The build host's resolver config has no business in a sandbox; Docker and the VM agent
  // provide their own.
  await writeFile(path.join(partial, "etc/resolv.conf"), "");
  if (sandboxUser) await addSandboxUser(partial);
  await rename(partial, dir);
  await prune(baseDir, dir, 1);
  report({ step: "rootfs", message: `rootfs ${key} built`, percent: 100 });
  return { dir, key, cached: false };
}

/** Creates {@link SANDBOX_USER} in the tree at `root`, with passwordless sudo. */
async function addSandboxUser(root: string): Promise<void> {
  const { name, uid, home } = SANDBOX_USER;
  await run("chroot", [
    root,
    "/usr/sbin/useradd",
    "--create-home",
    "--home-dir",
    home,
    "--uid",
    String(uid),
    "--user-group",
    "--shell",
    "/bin/bash",
    name,
  ]);
  const sudoers = path.join(root, "etc/sudoers.d", name);
  await writeFile(sudoers, `${name} ALL=(ALL:ALL) NOPASSWD:ALL\n`);
  await chmod(sudoers, 0o440);
}

async function copyInto(root: string, source: string, target: string, mode: number) {
  const dest = path.join(root, target);
  await mkdir(path.dirname(dest), { recursive: true });
  // Unlink first: the tree shares inodes with the base layer, and writing through one would
  // change the cached base too.
  await rm(dest, { force: true });
  await copyFile(source, dest);
  await chmod(dest, mode);
}

/**
 * Layer 2: the complete root filesystem tree (base + Node + mise + agent), in
 * `cacheDir/trees/<key>`. Its files are hard links into the base layer: read it, or copy it
 * before changing anything in place. This is what the microVM backends turn into an ext4 image.
 */
export async function buildRootfsTree(options: RootfsTreeOptions): Promise<BuiltLayer> {
  const cacheDir = path.resolve(options.cacheDir);
  const report = options.onProgress ?? (() => {});
  const nodeBinary = options.nodeBinary ?? process.execPath;
  const miseBinary = options.miseBinary ?? defaultMiseBinary();
  if (miseBinary === undefined) {
    throw new Error("mise binary not found: install @jdxcode/mise-linux-x64 or pass miseBinary");
  }
  report({ step: "lock", message: `locking ${cacheDir}` });
  return withDirLock(
    path.join(cacheDir, "build.lock"),
    async () => {
      const base = await buildBaseRootfs({ ...options, cacheDir });
      report({ step: "tree", message: "hashing node, mise and agent", percent: 0 });
      const [nodeHash, miseHash, agentHash] = await Promise.all(
        [nodeBinary, miseBinary, options.agentFile].map(hashFile),
      );
      const key = sha256(
        JSON.stringify({
          layout: TREE_LAYOUT_VERSION,
          base: base.key,
          node: nodeHash,
          mise: miseHash,
          agent: agentHash,
          paths: IMAGE_PATHS,
        }),
      ).slice(0, 32);
      const treesDir = path.join(cacheDir, "trees");
      const dir = path.join(treesDir, key);
      if (await exists(dir)) {
        report({ step: "tree", message: `reusing cached tree ${key}`, percent: 100 });
        return { dir, key, cached: true };
      }
      const partial = `${dir}.partial`;
      await rm(partial, { recursive: true, force: true });
      await mkdir(treesDir, { recursive: true });
      report({ step: "tree", message: "linking base rootfs", percent: 10 });
      await run("cp", ["-al", base.dir, partial]);
      report({ step: "tree", message: "copying node, mise and agent", percent: 50 });
      await copyInto(partial, nodeBinary, IMAGE_PATHS.node, 0o755);
      await copyInto(partial, miseBinary, IMAGE_PATHS.mise, 0o755);
      await copyInto(partial, options.agentFile, IMAGE_PATHS.agent, 0o644);
      let snapshot = false;
      if (await isSnapshotCapableBundle(options.agentFile)) {
        report({ step: "tree", message: "building the agent's startup snapshot", percent: 70 });
        // Built here, by the binary the image runs: a snapshot loads only in the Node that made
        // it. When it cannot be built the image starts the agent as a plain script.
        snapshot = await buildAgentSnapshot({
          bundle: options.agentFile,
          out: path.join(partial, IMAGE_PATHS.agentSnapshot),
          nodeBinary,
        });
        if (!snapshot) {
          report({ step: "tree", message: "no startup snapshot: the agent starts as a script" });
        }
      }
      await mkdir(path.join(partial, IMAGE_PATHS.runDir), { recursive: true, mode: 0o700 });
      await writeFile(
        path.join(partial, "opt/aetherium/image.json"),
        `${JSON.stringify({ inputHash: key, base: base.key, aetherium: AETHERIUM_VERSION, agentSnapshot: snapshot }, null, 2)}\n`,
      );
      await rename(partial, dir);
      await prune(treesDir, dir, 2);
      report({ step: "tree", message: `tree ${key} built`, percent: 100 });
      return { dir, key, cached: false };
    },
    { onWait: () => report({ step: "lock", message: "waiting for another build of this cache" }) },
  );
}

function splitTag(tag: string): { repo: string; tag: string } {
  const colon = tag.lastIndexOf(":");
  if (colon > tag.lastIndexOf("/")) return { repo: tag.slice(0, colon), tag: tag.slice(colon + 1) };
  return { repo: tag, tag: "latest" };
}

/** How the image's entrypoint starts the agent (see {@link importChanges}). */
export function agentEntrypoint(snapshot: boolean): string[] {
  return snapshot
    ? [IMAGE_PATHS.node, "--snapshot-blob", IMAGE_PATHS.agentSnapshot, IMAGE_PATHS.agent]
    : [IMAGE_PATHS.node, IMAGE_PATHS.agent];
}

/**
 * The Dockerfile-style changes `docker import` applies: how a container of the image starts.
 * With `snapshot` (the tree has {@link IMAGE_PATHS.agentSnapshot}) Node starts the agent from its
 * startup snapshot.
 */
export function importChanges(inputHash: string, snapshot = false): string[] {
  return [
    // Node runs the agent; docker's init (HostConfig.Init) is PID 1 above it and reaps zombies.
    `ENTRYPOINT ${JSON.stringify(agentEntrypoint(snapshot))}`,
    `CMD ${JSON.stringify(["--socket", IMAGE_PATHS.agentSocket])}`,
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    `LABEL ${INPUT_HASH_LABEL}=${inputHash} aetherium.version=${AETHERIUM_VERSION} aetherium.image=base`,
  ];
}

/**
 * Removes earlier base images the new tag displaced: each is a full copy of the rootfs (~0.5 GB),
 * and one per agent change would fill a developer's disk. Images still used by a container are
 * kept (the engine refuses with 409) and go on a later build.
 */
async function removeDanglingBaseImages(docker: Docker): Promise<void> {
  const dangling = await docker
    .listImages({ filters: { dangling: ["true"], label: ["aetherium.image=base"] } })
    .catch(() => []);
  for (const image of dangling) {
    await docker
      .getImage(image.Id)
      .remove()
      .catch(() => undefined);
  }
}

/**
 * Builds (or finds) the base sandbox image: {@link buildRootfsTree}, then `docker import` of the
 * tree, tagged `tag`. When an image labelled with the same input hash exists the import is
 * skipped and the tag is (re)pointed at it, so a rebuild with nothing changed takes seconds.
 */
export async function buildBaseImage(options: BaseImageOptions): Promise<BaseImage> {
  const tag = options.tag ?? DEFAULT_BASE_IMAGE;
  const report = options.onProgress ?? (() => {});
  const docker = options.docker ?? new Docker({ socketPath: "/var/run/docker.sock" });
  const base = { rootfs: false };
  const tree = await buildRootfsTree({
    ...options,
    onProgress: (p) => {
      if (p.step === "rootfs" && p.message.startsWith("reusing")) base.rootfs = true;
      report(p);
    },
  });
  const ref = splitTag(tag);
  const op = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw mapDockerError(err, { operation });
    }
  };
  const found = await op("list images", () =>
    docker.listImages({ filters: { label: [`${INPUT_HASH_LABEL}=${tree.key}`] } }),
  );
  const existing = found[0];
  if (existing !== undefined) {
    if (!(existing.RepoTags ?? []).includes(tag)) {
      await op("tag image", () => docker.getImage(existing.Id).tag(ref));
    }
    report({
      step: "import",
      message: `image ${tag} is up to date (${existing.Id})`,
      percent: 100,
    });
    return {
      imageId: existing.Id,
      tag,
      inputHash: tree.key,
      rootfsDir: tree.dir,
      cached: { rootfs: base.rootfs, tree: tree.cached, image: true },
    };
  }
  report({ step: "import", message: `importing ${tree.dir} as ${tag}`, percent: 0 });
  const snapshot = await exists(path.join(tree.dir, IMAGE_PATHS.agentSnapshot));
  // --numeric-owner: the tree's uids are the image's, not whatever names the host maps them to.
  const tar = spawn("tar", ["--numeric-owner", "-C", tree.dir, "-cf", "-", "."], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let tarError = "";
  tar.stderr.on("data", (chunk: Buffer) => (tarError += chunk.toString()));
  const tarDone = new Promise<void>((resolve, reject) => {
    tar.on("error", reject);
    tar.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`tar failed (${code}): ${tarError}`)),
    );
  });
  const output = await op("import image", () =>
    docker.importImage(tar.stdout, {
      repo: ref.repo,
      tag: ref.tag,
      changes: importChanges(tree.key, snapshot),
    }),
  );
  // The engine answers with a JSON-lines progress stream; an error can arrive inside it with 200.
  let imageId: string | undefined;
  for await (const line of createInterface({ input: output })) {
    if (line.trim() === "") continue;
    const event = JSON.parse(line) as { status?: string; error?: string };
    if (event.error !== undefined) throw new Error(`docker import failed: ${event.error}`);
    if (event.status?.startsWith("sha256:") === true) imageId = event.status;
  }
  await tarDone;
  if (imageId === undefined) {
    imageId = (await op("inspect image", () => docker.getImage(tag).inspect())).Id;
  }
  await removeDanglingBaseImages(docker);
  report({ step: "import", message: `image ${tag} built (${imageId})`, percent: 100 });
  return {
    imageId,
    tag,
    inputHash: tree.key,
    rootfsDir: tree.dir,
    cached: { rootfs: base.rootfs, tree: tree.cached, image: false },
  };
}
