import path from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

// The SDK runs in the dashboard: a browser bundle of it must build without Node builtins, and the
// `ws` fallback must stay a runtime-only import that bundlers leave alone.
describe("browser bundle", () => {
  it("bundles for the browser with no node: imports and no ws", async () => {
    const result = await build({
      entryPoints: [path.join(import.meta.dirname, "index.ts")],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
      conditions: ["@aetherium/source"],
      metafile: true,
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((f) => f.startsWith("node:") || /node_modules\/ws\//.test(f))).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/from\s*["']node:/);
    expect(code).toContain("webpackIgnore");
  });
});
