import { defineConfig } from "vitest/config";

// `npm test` at the root runs every workspace's vitest project in one process.
export default defineConfig({
  test: {
    projects: ["libs/*", "services/*", "infrastructure/pulumi", "tests/*", "tools"],
    // Two cores here: keep the pool small so database-heavy files don't starve each other.
    maxWorkers: 2,
    coverage: { provider: "v8", include: ["libs/*/src/**", "services/*/src/**"] },
  },
});
