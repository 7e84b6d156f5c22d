import path from "node:path";
import { buildAgentBundle, buildBaseImage, detectBackends } from "@aetherium/worker";
import { DEFAULT_BASE_IMAGE } from "@aetherium/core";

/**
 * Once per e2e run: builds the base image from this checkout's agent (the repo's shared cache makes
 * an unchanged build take a second), so every `aetherium start` in these tests boots sandboxes with
 * the agent the code under test speaks to. Without Docker or root it does nothing, and the tests
 * that need sandboxes say why they cannot run.
 */
export default async function setup(): Promise<void> {
  const docker = (await detectBackends()).find((b) => b.backend === "docker");
  if (!docker?.available || process.getuid?.() !== 0) return;
  const repo = path.resolve(import.meta.dirname, "../../..");
  const agent = await buildAgentBundle();
  await buildBaseImage({
    agentFile: agent.path,
    cacheDir: path.join(repo, ".aetherium/cache/image"),
    tag: DEFAULT_BASE_IMAGE,
  });
}
