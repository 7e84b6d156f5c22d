import { mergeConfig } from "vitest/config";
import { workspaceProject } from "../../vitest.shared.js";

export default mergeConfig(workspaceProject("@aetherium/e2e"), {
  test: {
    globalSetup: ["./src/global-setup.ts"],
    // Each file starts whole platforms (and sandboxes): give them room, but stay bounded.
    testTimeout: 90_000,
  },
});
