import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fakeMisePluginScript, type FakeMisePlugin } from "./fake-mise-plugin.js";

const run = promisify(execFile);

/**
 * Builds `tag` from `baseImage` (a sandbox image: it has mise and the user `user`) with the fake
 * plugins of {@link fakeMisePluginScript} written and linked for `user`, so a sandbox made from
 * it can install their tools offline from its very first moment (`POST /vms {tools}` installs
 * before anything else could copy a plugin in). Uses the local engine through the `docker` CLI;
 * remove the image with `docker rmi` when done.
 */
export async function buildFakeMisePluginImage(
  baseImage: string,
  tag: string,
  plugins: readonly FakeMisePlugin[],
): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "aether-mise-plugins-"));
  try {
    await writeFile(path.join(dir, "link-plugins.sh"), fakeMisePluginScript(plugins));
    await writeFile(
      path.join(dir, "Dockerfile"),
      [
        `FROM ${baseImage}`,
        "COPY link-plugins.sh /tmp/link-plugins.sh",
        "USER user",
        "RUN HOME=/home/user sh /tmp/link-plugins.sh",
        "USER root",
        "",
      ].join("\n"),
    );
    // The classic builder: nothing to download, and no BuildKit needed on the engine.
    await run("docker", ["build", "--quiet", "--tag", tag, dir], {
      env: { ...process.env, DOCKER_BUILDKIT: "0" },
    });
    return tag;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
