import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

/** What {@link buildAgentBundle} produced. */
export interface AgentBundle {
  /** Absolute path of the bundle (`agent.mjs`). */
  path: string;
  /** sha256 (hex) of the bundle's bytes: the cache key of images that contain it. */
  hash: string;
  /** Size of the bundle in bytes. */
  bytes: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
// This file runs as src/agent/build-agent.ts (tests, tsx) or dist/agent/build-agent.js (built);
// the guest entry sits beside it with the same extension, and dist-agent/ two levels up.
const ownExt = path.extname(fileURLToPath(import.meta.url)) === ".ts" ? ".ts" : ".js";
const GUEST_ENTRY = path.join(here, "guest", `agent-main${ownExt}`);

/** Where the bundle goes by default: `services/core/dist-agent/agent.mjs`. */
export const DEFAULT_AGENT_BUNDLE_PATH = path.resolve(here, "..", "..", "dist-agent", "agent.mjs");

// The bundle is ESM, but vscode-jsonrpc is CommonJS and require()s node builtins; esbuild's ESM
// output has no `require`, so give it one.
const BANNER = [
  `import { createRequire as __aetheriumCreateRequire } from "node:module";`,
  `const require = __aetheriumCreateRequire(import.meta.url);`,
].join("\n");

/*
 * @aetherium/types is pure schema declarations, but esbuild cannot know that `z.object(...)` at
 * module top level has no side effects, so by default it would bundle every schema of the package
 * (and they import each other). Marking the package's modules side-effect free lets esbuild drop
 * every module the agent does not use.
 */
const typesArePure: Plugin = {
  name: "aetherium-types-pure",
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === "pure") return undefined;
      if (
        !/(^|\/)libs\/types\/(src|dist)\//.test(args.importer) &&
        args.path !== "@aetherium/types"
      ) {
        return undefined;
      }
      const r = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: "pure",
      });
      if (r.errors.length > 0 || !/(^|\/)libs\/types\//.test(r.path)) return undefined;
      return { path: r.path, sideEffects: false };
    });
  },
};

/*
 * zod re-exports all of its ~60 error-message translations as the `locales` namespace, and the
 * `z` namespace object keeps them all alive (about 40% of the bundle). The agent only uses the
 * English messages, which zod loads by its own import of `locales/en.js`.
 */
const zodWithoutLocales: Plugin = {
  name: "zod-without-locales",
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /node_modules\/zod\//.test(args.importer)
        ? { path: "zod-locales", namespace: "aetherium-empty" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "aetherium-empty" }, () => ({ contents: "export {};" }));
  },
};

/**
 * Bundles the guest agent (`guest/agent-main.ts` and everything it imports) into one ESM file for
 * Node 20, and returns its path and content hash. Fast (well under a second), so callers may build
 * on demand instead of shipping the file.
 */
export async function buildAgentBundle(
  outFile: string = DEFAULT_AGENT_BUNDLE_PATH,
): Promise<AgentBundle> {
  const out = path.resolve(outFile);
  await build({
    entryPoints: [GUEST_ENTRY],
    outfile: out,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    minify: false,
    sourcemap: false,
    legalComments: "none",
    // Resolve @aetherium/* to TypeScript sources when bundling from sources.
    conditions: ownExt === ".ts" ? ["@aetherium/source"] : [],
    banner: { js: BANNER },
    plugins: [typesArePure, zodWithoutLocales],
    // Paths in the bundle's comments are relative to this: fixed, so the hash does not depend on
    // the caller's working directory.
    absWorkingDir: path.resolve(here, "..", ".."),
    logLevel: "silent",
  });
  const bytes = await readFile(out);
  return { path: out, hash: createHash("sha256").update(bytes).digest("hex"), bytes: bytes.length };
}
