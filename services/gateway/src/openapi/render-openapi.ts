import { fileURLToPath } from "node:url";
import { createLogger } from "@aetherium/common";
import { DataPlaneClient } from "@aetherium/core";
import { buildServer, type ServerDeps } from "../server/build-server.js";

/** Where the committed copy lives: `spec/openapi.json` at the repository's root. */
export const COMMITTED_OPENAPI_PATH = fileURLToPath(
  new URL("../../../../spec/openapi.json", import.meta.url),
);

/** The command that rewrites the committed copy from the routes. */
export const REGENERATE_OPENAPI_COMMAND = "npm run spec:openapi";

/**
 * The document `GET /api/v1/openapi.json` serves, as the committed file holds it (2-space JSON and
 * a final newline). The document comes from the routes' schemas alone, so the gateway is built
 * without a database, queue or worker: nothing here is ever called, nothing listens.
 */
export async function renderOpenApiDocument(): Promise<string> {
  const deps: ServerDeps = {
    logger: createLogger({ level: "silent", service: "openapi" }),
    runtime: {} as ServerDeps["runtime"],
    dataPlane: new DataPlaneClient({ timeoutMs: 1000 }),
    health: () => Promise.reject(new Error("not served while rendering the document")),
  };
  const app = await buildServer(deps);
  try {
    const res = await app.inject({ method: "GET", url: "/api/v1/openapi.json" });
    if (res.statusCode !== 200) {
      throw new Error(`GET /api/v1/openapi.json answered ${res.statusCode}: ${res.body}`);
    }
    return formatOpenApiDocument(res.json());
  } finally {
    await app.close();
  }
}

/** The committed file's layout, so a regenerated copy differs only where the API does. */
export function formatOpenApiDocument(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
