/**
 * `aetherium image build --service <name>`: a service image from the Debian rootfs the sandbox
 * pipeline debootstraps (one cached tree per package set), plus, for the Node services, this
 * machine's Node binary and the application tree; imported into the engine as one layer, labelled
 * with a hash of its inputs so a rebuild with nothing changed only re-tags.
 * @module
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, chown, copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { AETHERIUM_VERSION } from "@aetherium/types";
import { buildBaseRootfs, type ImageBuildProgress } from "@aetherium/worker";
import { copyAppTree, fingerprintAppTree, planAppTree } from "./app-tree.js";
import {
  APP_DIR,
  COMMON_PRUNE,
  SERVICE_IMAGES,
  SERVICE_USER,
  serviceImageTag,
  type ServiceName,
} from "./service-catalog.js";

/** Label whose value is the hash of an image's inputs. */
export const SERVICE_INPUT_LABEL = "aetherium.service-input-hash";

/** Bump when the recipe changes without its inputs changing. */
const RECIPE_VERSION = 1;

/** One progress line of a service image build. */
export interface ServiceBuildProgress {
  readonly service: ServiceName;
  readonly step: ImageBuildProgress["step"] | "app" | "done";
  readonly message: string;
  readonly percent?: number;
}

/** Options for {@link buildServiceImage}. */
export interface ServiceImageOptions {
  /** The checkout whose built packages go into the Node images. */
  readonly root: string;
  /** Cache directory (`<home>/cache`); the rootfs trees live in `service-images/` under it. */
  readonly cacheDir: string;
  /** Image version; default this checkout's. */
  readonly version?: string;
  readonly docker?: Docker;
  /** The Node binary put in the Node images; default this process's. */
  readonly nodeBinary?: string;
  readonly onProgress?: (p: ServiceBuildProgress) => void;
}

/** A built (or found) service image. */
export interface ServiceImage {
  readonly service: ServiceName;
  readonly tag: string;
  readonly imageId: string;
  /** True when an image with the same inputs existed and was only tagged. */
  readonly cached: boolean;
}

function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function runCommand(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${command} ${args.join(" ")} failed (${code}): ${err.trim()}`)),
    );
  });
}

/** Looks `name` up in the tree's `/etc/passwd`. */
async function userIds(tree: string, name: string): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile(path.join(tree, "etc/passwd"), "utf8");
  for (const line of passwd.split("\n")) {
    const [user, , uid, gid] = line.split(":");
    if (user === name) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error(`user ${name} does not exist in the image's /etc/passwd`);
}

/** Rewrites a file of the tree without touching the hard-linked original in the rootfs cache. */
async function appendTo(tree: string, file: string, text: string): Promise<void> {
  const at = path.join(tree, file);
  const before = await readFile(at, "utf8");
  await rm(at);
  await writeFile(at, before + text, { mode: 0o644 });
}

/** The engine's `docker import` changes: how a container of the image starts and who runs it. */
export function serviceImportChanges(service: ServiceName, inputHash: string): string[] {
  const spec = SERVICE_IMAGES[service];
  return [
    `ENTRYPOINT ${JSON.stringify(spec.entrypoint)}`,
    ...(spec.cmd.length > 0 ? [`CMD ${JSON.stringify(spec.cmd)}`] : []),
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ...Object.entries(spec.env).map(([k, v]) => `ENV ${k}=${v}`),
    ...spec.exposedPorts.map((p) => `EXPOSE ${p}`),
    `USER ${spec.user}`,
    `WORKDIR ${spec.app ? APP_DIR : "/"}`,
    `LABEL ${SERVICE_INPUT_LABEL}=${inputHash} aetherium.version=${AETHERIUM_VERSION} aetherium.image=${service}`,
  ];
}

/**
 * Builds (or finds) `aetherium/<service>:<version>`. Needs root (debootstrap on the first build
 * of a rootfs, file ownership in the tree) and a Docker engine.
 */
export async function buildServiceImage(
  service: ServiceName,
  options: ServiceImageOptions,
): Promise<ServiceImage> {
  const spec = SERVICE_IMAGES[service];
  const report = (p: Omit<ServiceBuildProgress, "service">) =>
    options.onProgress?.({ service, ...p });
  const docker = options.docker ?? new Docker({ socketPath: "/var/run/docker.sock" });
  const tag = serviceImageTag(service, options.version);
  const cacheRoot = path.join(path.resolve(options.cacheDir), "service-images");
  // One cache directory per package set: the rootfs cache keeps only its newest trees, and the
  // variants must not evict each other (or the sandbox image's).
  const rootfs = await buildBaseRootfs({
    cacheDir: path.join(cacheRoot, spec.rootfs.name),
    packages: spec.rootfs.packages,
    packageCacheDir: path.join(cacheRoot, "debs"),
    onProgress: (p) => report(p),
  });
  const nodeBinary = options.nodeBinary ?? process.execPath;
  const plan = spec.app ? await planAppTree(options.root, spec.app) : undefined;
  report({ step: "app", message: "hashing inputs" });
  const inputHash = sha256(
    JSON.stringify({
      recipe: RECIPE_VERSION,
      // This module is the recipe: a change to it is a change of every image.
      builder: await hashFile(fileURLToPath(import.meta.url)),
      spec,
      rootfs: rootfs.key,
      version: options.version ?? AETHERIUM_VERSION,
      node: spec.app ? await hashFile(nodeBinary) : null,
      app: plan ? await fingerprintAppTree(plan) : null,
    }),
  ).slice(0, 32);
  const found = await docker.listImages({
    filters: { label: [`${SERVICE_INPUT_LABEL}=${inputHash}`] },
  });
  const existing = found[0];
  if (existing !== undefined) {
    if (!(existing.RepoTags ?? []).includes(tag)) {
      const [repo, version] = [
        tag.slice(0, tag.lastIndexOf(":")),
        tag.slice(tag.lastIndexOf(":") + 1),
      ];
      await docker.getImage(existing.Id).tag({ repo, tag: version });
    }
    report({ step: "done", message: `${tag} is up to date`, percent: 100 });
    return { service, tag, imageId: existing.Id, cached: true };
  }

  const work = path.join(cacheRoot, "work", `${service}-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(path.dirname(work), { recursive: true });
  try {
    report({ step: "tree", message: "linking the rootfs", percent: 0 });
    // Hard links: nothing is copied, and every file changed below is unlinked first.
    await runCommand("cp", ["-al", rootfs.dir, work]);
    for (const rel of [...COMMON_PRUNE, ...spec.prune])
      await rm(path.join(work, rel), { recursive: true, force: true });
    if (spec.app && plan) {
      report({ step: "app", message: "copying node and the application", percent: 20 });
      await rm(path.join(work, "usr/local/bin/node"), { force: true });
      await copyFile(nodeBinary, path.join(work, "usr/local/bin/node"));
      await chmod(path.join(work, "usr/local/bin/node"), 0o755);
      await copyAppTree(plan, path.join(work, APP_DIR.slice(1)));
      await appendTo(
        work,
        "etc/passwd",
        `${SERVICE_USER.name}:x:${SERVICE_USER.uid}:${SERVICE_USER.gid}::${SERVICE_IMAGES.gateway.env.AETHERIUM_HOME}:/usr/sbin/nologin\n`,
      );
      await appendTo(work, "etc/group", `${SERVICE_USER.name}:x:${SERVICE_USER.gid}:\n`);
    }
    if (spec.script) {
      const at = path.join(work, spec.script.path.slice(1));
      await mkdir(path.dirname(at), { recursive: true });
      await writeFile(at, spec.script.text, { mode: 0o755 });
    }
    const owner = spec.user === "root" ? { uid: 0, gid: 0 } : await userIds(work, spec.user);
    for (const dir of spec.stateDirs) {
      const at = path.join(work, dir.slice(1));
      // Parents stay traversable (0755); only the state directory itself is private.
      await mkdir(path.dirname(at), { recursive: true, mode: 0o755 });
      await mkdir(at, { recursive: true, mode: 0o700 });
      await chown(at, owner.uid, owner.gid);
      await chmod(at, 0o700);
    }
    report({ step: "import", message: `importing as ${tag}`, percent: 60 });
    const imageId = await importTree(docker, work, tag, serviceImportChanges(service, inputHash));
    // The image this tag pointed at before is a full copy of its rootfs: remove it unless a
    // container still uses it (the engine refuses, and a later build retries).
    const dangling = await docker
      .listImages({ filters: { dangling: ["true"], label: [`aetherium.image=${service}`] } })
      .catch(() => []);
    for (const image of dangling) {
      await docker
        .getImage(image.Id)
        .remove()
        .catch(() => undefined);
    }
    report({ step: "done", message: `${tag} built (${imageId.slice(7, 19)})`, percent: 100 });
    return { service, tag, imageId, cached: false };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Streams `dir` through `tar` into the engine's import API; resolves to the image id. */
async function importTree(
  docker: Docker,
  dir: string,
  tag: string,
  changes: string[],
): Promise<string> {
  const tar = spawn("tar", ["--numeric-owner", "-C", dir, "-cf", "-", "."], {
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
  const colon = tag.lastIndexOf(":");
  const output = await docker.importImage(tar.stdout, {
    repo: tag.slice(0, colon),
    tag: tag.slice(colon + 1),
    changes,
  });
  let imageId: string | undefined;
  // The engine answers with JSON lines; an error can arrive inside a 200.
  for await (const line of createInterface({ input: output })) {
    if (line.trim() === "") continue;
    const event = JSON.parse(line) as { status?: string; error?: string };
    if (event.error !== undefined)
      throw new Error(`docker import of ${tag} failed: ${event.error}`);
    if (event.status?.startsWith("sha256:") === true) imageId = event.status;
  }
  await tarDone;
  return imageId ?? (await docker.getImage(tag).inspect()).Id;
}
