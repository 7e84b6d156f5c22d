import { spawn } from "node:child_process";
import { access } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "@aetherium/common";
import { detectBackends, DockerBackend } from "@aetherium/worker";
import { buildImageWithProgress } from "./build-image.js";
import { DEFAULT_BASE_IMAGE } from "@aetherium/core";

/** `scripts/ensure-docker.sh` of this checkout: installs docker.io from Debian and starts dockerd. */
const ENSURE_DOCKER = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../../scripts/ensure-docker.sh",
);

/**
 * What a newcomer's first `npm start` needs for sandboxes, done for them where it can be: as root
 * on a machine without Docker, install and start the engine (Debian packages, never a registry);
 * with the engine up and the base image missing, build it (debootstrap, about a minute, with
 * progress). Anything that cannot be done is said in one line with the command to run; the
 * platform starts either way. `AETHERIUM_NO_DOCKER_SETUP=1` skips all of it.
 */
export async function prepareDocker(config: Config, print: (line: string) => void): Promise<void> {
  if (process.env.AETHERIUM_NO_DOCKER_SETUP === "1") return;
  let docker = (await detectBackends()).find((p) => p.backend === "docker");
  if (!docker?.available) {
    const canInstall =
      process.getuid?.() === 0 &&
      (await access(ENSURE_DOCKER).then(
        () => true,
        () => false,
      ));
    if (!canInstall) {
      print(
        `docker: not available (${docker?.detail ?? "no engine"}); as root, run scripts/ensure-docker.sh, then restart`,
      );
      return;
    }
    print("docker: no engine answers; installing and starting it (scripts/ensure-docker.sh)…");
    const code = await run("bash", [ENSURE_DOCKER], print);
    if (code !== 0) {
      print(`docker: scripts/ensure-docker.sh failed (exit ${code}); sandboxes stay unavailable`);
      return;
    }
    docker = (await detectBackends()).find((p) => p.backend === "docker");
    if (!docker?.available) return;
  }
  const backend = new DockerBackend({ defaultImage: DEFAULT_BASE_IMAGE });
  const present = await backend.docker
    .getImage(DEFAULT_BASE_IMAGE)
    .inspect()
    .then(
      () => true,
      () => false,
    );
  if (present) return;
  print(
    `image: ${DEFAULT_BASE_IMAGE} is missing; building it from Debian packages (first run only)…`,
  );
  try {
    const image = await buildImageWithProgress(config, print, "  ");
    print(`image: ${image.tag} ready`);
  } catch (err) {
    print(
      `image: build failed (${(err as Error).message}); run \`node npx aetherium image build\` as root to see why`,
    );
  }
}

function run(cmd: string, args: string[], print: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim()) print(`  ${line}`);
    };
    child.stdout.on("data", forward);
    child.stderr.on("data", forward);
    child.on("error", () => resolve(127));
    child.on("exit", (code) => resolve(code ?? 1));
  });
}
