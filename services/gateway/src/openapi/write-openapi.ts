import { writeFile } from "node:fs/promises";
import { COMMITTED_OPENAPI_PATH, renderOpenApiDocument } from "./render-openapi.js";

// `npm run spec:openapi`: rewrites spec/openapi.json from the gateway's routes.
await writeFile(COMMITTED_OPENAPI_PATH, await renderOpenApiDocument());
process.stdout.write(`wrote ${COMMITTED_OPENAPI_PATH}\n`);
