import { access, constants, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { detectBackends } from "../backends/detect-backends.js";
import { AETHERIUM_VERSION } from "@aetherium/types";
import { buildBaseImage, importChanges } from "./build-base-image.js";
import { IMAGE_PATHS, INPUT_HASH_LABEL, SANDBOX_USER } from "./image-layout.js";

// Shared with docker-backend.test.ts: same inputs, same cache, so whichever file runs first builds
// and the other reuses (the cache lock serialises them).
const CACHE_DIR = path.resolve(import.meta.dirname, "../../../../.aetherium/cache/image");
const STUB_AGENT = path.join(import.meta.dirname, "fixtures", "stub-agent.cjs");
const TEST_TAG = `aetherium/base-test:${AETHERIUM_VERSION}`;

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

const docker = (await detectBackends()).find((b) => b.backend === "docker");
const debootstrap = await access("/usr/sbin/debootstrap", constants.X_OK).then(
  () => true,
  () => false,
);
const canBuild = docker?.available === true && debootstrap && process.getuid?.() === 0;
if (!canBuild) {
  console.warn(
    `skipping image build tests: needs root, debootstrap and a Docker engine (${docker?.detail}); run scripts/ensure-docker.sh`,
  );
}

describe("importChanges", () => {
  it("starts the agent on the bind-mounted socket and labels the input hash", () => {
    const changes = importChanges("abc");
    expect(changes).toContain(`ENTRYPOINT ["${IMAGE_PATHS.node}","${IMAGE_PATHS.agent}"]`);
    expect(changes).toContain(`CMD ["--socket","${IMAGE_PATHS.agentSocket}"]`);
    expect(changes.some((c) => c.includes(`${INPUT_HASH_LABEL}=abc`))).toBe(true);
  });

  it("starts the agent from its startup snapshot when the image has one", () => {
    expect(importChanges("abc", true)).toContain(
      `ENTRYPOINT ["${IMAGE_PATHS.node}","--snapshot-blob","${IMAGE_PATHS.agentSnapshot}","${IMAGE_PATHS.agent}"]`,
    );
  });
});

describe.skipIf(!canBuild)("buildBaseImage (real debootstrap + dockerd)", () => {
  it("builds once, then a rebuild with nothing changed is fast and returns the same image", async () => {
    const steps: string[] = [];
    const first = await buildBaseImage({
      agentFile: STUB_AGENT,
      cacheDir: CACHE_DIR,
      tag: TEST_TAG,
      onProgress: (p) => steps.push(p.step),
    });
    expect(first.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(steps).toContain("rootfs");
    expect(steps).toContain("import");

    const second = await buildBaseImage({
      agentFile: STUB_AGENT,
      cacheDir: CACHE_DIR,
      tag: TEST_TAG,
    });
    expect(second.imageId).toBe(first.imageId);
    expect(second.cached).toEqual({ rootfs: true, tree: true, image: true });

    // The tree has everything the image promises, and its files are where the image says.
    for (const file of [IMAGE_PATHS.node, IMAGE_PATHS.mise, IMAGE_PATHS.agent]) {
      expect((await stat(path.join(second.rootfsDir, file))).isFile()).toBe(true);
    }
    expect(await readFile(path.join(second.rootfsDir, IMAGE_PATHS.agent), "utf8")).toBe(
      await readFile(STUB_AGENT, "utf8"),
    );
    expect((await stat(path.join(second.rootfsDir, "usr/bin/git"))).isFile()).toBe(true);
    expect((await stat(path.join(second.rootfsDir, "usr/bin/python3"))).isFile()).toBe(true);
    // The unprivileged account, its home, and passwordless sudo for it.
    const passwd = await readFile(path.join(second.rootfsDir, "etc/passwd"), "utf8");
    expect(passwd).toContain(
      `${SANDBOX_USER.name}:x:${SANDBOX_USER.uid}:${SANDBOX_USER.uid}::${SANDBOX_USER.home}:/bin/bash`,
    );
    const home = await stat(path.join(second.rootfsDir, SANDBOX_USER.home));
    expect([home.isDirectory(), home.uid]).toEqual([true, SANDBOX_USER.uid]);
    const sudoers = path.join(second.rootfsDir, "etc/sudoers.d", SANDBOX_USER.name);
    expect(await readFile(sudoers, "utf8")).toBe(
      `${SANDBOX_USER.name} ALL=(ALL:ALL) NOPASSWD:ALL\n`,
    );
    expect((await stat(sudoers)).mode & 0o777).toBe(0o440);
    // A stub is no agent bundle: no snapshot is built of it (that would run it), so the image
    // starts it as a plain script.
    expect(await exists(path.join(second.rootfsDir, IMAGE_PATHS.agentSnapshot))).toBe(false);
  }, 600_000);
});
