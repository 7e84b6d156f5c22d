import { defineProject } from "vitest/config";
import { workspaceProject } from "../../vitest.shared.js";

// Pulumi's SDK is CommonJS and pins an OpenTelemetry API whose `module` build Node cannot load
// (extensionless imports): resolve without the `module` condition so Node's own builds load.
const conditions = ["@aetherium/source", "node"];
const base = workspaceProject("@aetherium/pulumi");

export default defineProject({
  ...base,
  resolve: { ...base.resolve, conditions },
  ssr: { ...base.ssr, resolve: { ...base.ssr?.resolve, conditions } },
});
