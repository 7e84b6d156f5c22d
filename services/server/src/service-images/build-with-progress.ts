import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "@aetherium/common";
import { buildServiceImage, type ServiceImage } from "./build-service-image.js";
import type { ServiceName } from "./service-catalog.js";

/** The checkout this package was built in: the application tree of the Node images comes from it. */
export const CHECKOUT_ROOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../..",
);

/**
 * Builds each of `services` in turn, printing one line per progress step as
 * `[service] [step] NN% message` and a summary line per image.
 */
export async function buildServiceImagesWithProgress(
  config: Config,
  services: readonly ServiceName[],
  print: (line: string) => void,
): Promise<ServiceImage[]> {
  const built: ServiceImage[] = [];
  for (const service of services) {
    const started = Date.now();
    let last = "";
    const image = await buildServiceImage(service, {
      root: CHECKOUT_ROOT,
      cacheDir: path.resolve(config.home, "cache"),
      onProgress: (p) => {
        if (p.step === "done") return;
        const line = `[${p.service}] [${p.step}]${p.percent !== undefined ? ` ${Math.round(p.percent)}%` : ""} ${p.message}`;
        if (line !== last) print(line);
        last = line;
      },
    });
    print(
      `${image.tag} ${image.cached ? "up to date" : "built"} (${image.imageId.slice(7, 19)}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    built.push(image);
  }
  return built;
}
