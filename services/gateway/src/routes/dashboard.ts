import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

/**
 * Serves the dashboard's static export at `/`. Next.js exports one `index.html` per folder
 * (`trailingSlash`), so `/sandboxes/` finds `sandboxes/index.html`; a path that is no page gets
 * the export's 404 page (returned for the not-found handler). API routes are matched first and
 * never reach this.
 */
export async function registerDashboard(
  app: FastifyInstance,
  dir: string,
): Promise<{ notFoundPage: Buffer | undefined } | undefined> {
  const root = path.resolve(dir);
  const ok = await stat(path.join(root, "index.html")).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!ok) return undefined;
  const notFoundPage = await readFile(path.join(root, "404.html")).catch(() => undefined);
  await app.register(fastifyStatic, {
    root,
    prefix: "/",
    index: ["index.html"],
    redirect: true,
    wildcard: true,
    // Hashed assets never change; pages must be re-read so a new build shows at once.
    setHeaders: (res, file) => {
      res.setHeader(
        "cache-control",
        file.includes(`${path.sep}_next${path.sep}static${path.sep}`)
          ? "public, max-age=31536000, immutable"
          : "no-cache",
      );
    },
  });
  return { notFoundPage };
}
