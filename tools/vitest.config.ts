import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineProject } from "vitest/config";
import { sourceConditions } from "../vitest.shared.js";

// Repository-level checks: the boundary rule itself and the benchmark helpers.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export default defineProject({
  resolve: { conditions: sourceConditions },
  ssr: { resolve: { conditions: sourceConditions } },
  test: {
    name: "repo",
    dir: repoRoot,
    include: [`${repoRoot}/tools/**/*.test.ts`, `${repoRoot}/bench/**/*.test.ts`],
    testTimeout: 120_000,
  },
});
