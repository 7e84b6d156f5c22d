import { defaultServerConditions } from "vite";
import { defineProject } from "vitest/config";

/**
 * Tests run against each package's TypeScript source, not its build: the `@aetherium/source`
 * export condition points every `@aetherium/*` import at `src/index.ts`.
 */
export const sourceConditions = ["@aetherium/source", ...defaultServerConditions];

/** The vitest project every workspace uses; `name` labels its tests in the root run. */
export function workspaceProject(name: string) {
  return defineProject({
    resolve: { conditions: sourceConditions },
    ssr: { resolve: { conditions: sourceConditions } },
    test: {
      name,
      include: ["src/**/*.test.ts"],
      environment: "node",
      // Tests talk to real PostgreSQL, Redis and dockerd: generous but bounded.
      testTimeout: 30_000,
      hookTimeout: 60_000,
    },
  });
}
