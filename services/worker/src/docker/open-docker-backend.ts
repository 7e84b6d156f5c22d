import type { BackendOpener } from "../backends/backend-registry.js";
import { DockerBackend } from "./docker-backend.js";

/**
 * The Docker backend, ready when the engine answers, the sandbox image exists (`aetherium image
 * build` makes it) and the host is shut to the sandbox bridge: a worker that cannot do so takes
 * no sandboxes rather than expose its own ports to them.
 */
export const openDockerBackend: BackendOpener = async ({ probe, config, image, logger }) => {
  const backend = new DockerBackend({
    defaultImage: image,
    egressProxyPort: config.sandbox.egressProxyPort,
    socketRoot: config.sandbox.runDir,
    logger,
  });
  const notReady = (detail: string) => ({
    ready: false as const,
    detail,
    close: () => backend.close(),
  });
  const hasImage = await backend.docker
    .getImage(image)
    .inspect()
    .then(
      () => true,
      () => false,
    );
  if (!hasImage) {
    return notReady(
      `${probe.detail}, but image ${image} is missing: run \`aetherium image build\``,
    );
  }
  const isolation = await backend.ensureNetwork().then(
    () => undefined,
    (err: unknown) => (err as Error).message,
  );
  if (isolation !== undefined) return notReady(isolation);
  const disk = await backend.probeDiskLimits(image).catch(() => "unknown");
  return {
    ready: true,
    backend,
    detail: `${probe.detail}, image ${image}, disk limits ${
      disk === "enforced"
        ? "enforced"
        : "not enforced (the data root has no quotas: see scripts/ensure-docker.sh)"
    }`,
  };
};
