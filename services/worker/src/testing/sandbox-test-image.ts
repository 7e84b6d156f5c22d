import { access, constants } from "node:fs/promises";
import path from "node:path";
import { DEFAULT_BASE_IMAGE } from "@aetherium/core";
import { detectBackends } from "../backends/detect-backends.js";
import { buildAgentBundle } from "../image/build-agent.js";
import { buildBaseImage } from "../image/build-base-image.js";

/** The repository's image layer cache, shared by every test that builds the sandbox image. */
export const TEST_IMAGE_CACHE_DIR = path.resolve(
  import.meta.dirname,
  "../../../../.aetherium/cache/image",
);

/** A prebuilt image to run instead of building the working tree's agent into the base image. */
const PREBUILT = process.env.AETHERIUM_TEST_SANDBOX_IMAGE;

/** The image the Docker tests run sandboxes from. */
export const SANDBOX_TEST_IMAGE = PREBUILT ?? DEFAULT_BASE_IMAGE;

/**
 * Whether this host can run the Docker tests: root and an engine that answers (and `debootstrap`
 * when the image must be built), and if not, why.
 */
export async function dockerTestHost(
  options: { needsDebootstrap?: boolean } = {},
): Promise<{ ok: boolean; detail: string }> {
  const docker = (await detectBackends()).find((b) => b.backend === "docker");
  if (docker?.available !== true) return { ok: false, detail: docker?.detail ?? "no probe" };
  if (process.getuid?.() !== 0) return { ok: false, detail: "needs root" };
  if (options.needsDebootstrap && !PREBUILT) {
    const ok = await access("/usr/sbin/debootstrap", constants.X_OK).then(
      () => true,
      () => false,
    );
    if (!ok) return { ok: false, detail: "needs debootstrap to build the sandbox image" };
  }
  return { ok: true, detail: "" };
}

/** Builds {@link SANDBOX_TEST_IMAGE} from this checkout's agent, unless a prebuilt one was named. */
export async function ensureSandboxTestImage(): Promise<string> {
  if (!PREBUILT) {
    const agent = await buildAgentBundle();
    await buildBaseImage({
      agentFile: agent.path,
      cacheDir: TEST_IMAGE_CACHE_DIR,
      tag: SANDBOX_TEST_IMAGE,
    });
  }
  return SANDBOX_TEST_IMAGE;
}
