import path from "node:path";
import type { Config } from "@aetherium/common";
import {
  buildAgentBundle,
  buildBaseImage,
  buildVmImage,
  type BaseImage,
  type VmImage,
} from "@aetherium/worker";
import { DEFAULT_BASE_IMAGE } from "@aetherium/core";

/**
 * Builds the sandbox base image from this checkout's agent (cached under `home`), printing one
 * line per progress step as `[step] NN% message` — what `aetherium image build` and the first
 * `aetherium start` show while debootstrap runs.
 */
export async function buildImageWithProgress(
  config: Config,
  print: (line: string) => void,
  indent = "",
): Promise<BaseImage> {
  const agent = await buildAgentBundle();
  let last = "";
  return buildBaseImage({
    agentFile: agent.path,
    cacheDir: path.resolve(config.home, "cache", "image"),
    tag: DEFAULT_BASE_IMAGE,
    onProgress: (p) => {
      const line = `${indent}[${p.step}]${p.percent !== undefined ? ` ${Math.round(p.percent)}%` : ""} ${p.message}`;
      if (line !== last) print(line);
      last = line;
    },
  });
}

/**
 * Builds the microVM guest image (the same rootfs tree as the Docker image, a Debian kernel and
 * an initramfs; no Docker engine needed), printing progress like {@link buildImageWithProgress}.
 */
export async function buildVmImageWithProgress(
  config: Config,
  print: (line: string) => void,
): Promise<VmImage> {
  const agent = await buildAgentBundle();
  let last = "";
  return buildVmImage({
    agentFile: agent.path,
    cacheDir: path.resolve(config.home, "cache", "image"),
    onProgress: (p) => {
      const line = `[${p.step}]${p.percent !== undefined ? ` ${Math.round(p.percent)}%` : ""} ${p.message}`;
      if (line !== last) print(line);
      last = line;
    },
  });
}
