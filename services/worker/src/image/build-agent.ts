import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { open, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build, type Plugin } from "esbuild";
import { GUEST_ENTRY } from "@aetherium/agent";

/** What {@link buildAgentBundle} produced. */
export interface AgentBundle {
  /** Absolute path of the bundle (`agent.cjs`). */
  path: string;
  /** sha256 (hex) of the bundle's bytes: the cache key of images that contain it. */
  hash: string;
  /** Size of the bundle in bytes. */
  bytes: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
// The agent package hands out its TypeScript entry under the source condition (tests, tsx) and
// its built one otherwise; bundling from sources resolves the other packages to sources too.
const fromSource = path.extname(GUEST_ENTRY) === ".ts";
// services/agent: paths in the bundle are relative to it, so the hash does not depend on the cwd.
const AGENT_PACKAGE_DIR = path.resolve(path.dirname(GUEST_ENTRY), "..", "..");

/** Where the bundle goes by default: `services/worker/dist-agent/agent.cjs`. */
export const DEFAULT_AGENT_BUNDLE_PATH = path.resolve(here, "..", "..", "dist-agent", "agent.cjs");

/**
 * First line of every agent bundle. It tells the image build that this script can be the entry
 * of a startup snapshot ({@link buildAgentSnapshot}); any other agent file (a test stub) is run
 * as a plain script, since building a snapshot runs the script's top level.
 */
export const AGENT_BUNDLE_MARKER = "/* aetherium-agent-bundle snapshot=1 */";

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
 * Bundles the guest agent (`guest/agent-main.ts` and everything it imports) into one CommonJS
 * script for Node 20, and returns its path and content hash. Fast (well under a second), so
 * callers may build on demand instead of shipping the file.
 *
 * CommonJS and not ESM because a script is what `node --build-snapshot` takes (Node 20 snapshots
 * no ES modules), and because V8 compiles a script's functions lazily where an ES module is
 * compiled whole before it runs (the ESM bundle spent ~16 ms in compileSourceTextModule). Minified:
 * half the bytes to read and parse when the agent starts without its snapshot (measured ~12 ms
 * less to listening than the ESM bundle, on the 2-core dev box), and a smaller snapshot.
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
    format: "cjs",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    // Resolve @aetherium/* to TypeScript sources when bundling from sources.
    conditions: fromSource ? ["@aetherium/source"] : [],
    banner: { js: AGENT_BUNDLE_MARKER },
    plugins: [typesArePure, zodWithoutLocales],
    absWorkingDir: AGENT_PACKAGE_DIR,
    logLevel: "silent",
  });
  const bytes = await readFile(out);
  return { path: out, hash: createHash("sha256").update(bytes).digest("hex"), bytes: bytes.length };
}

/** Whether `file` is an agent bundle that can be built into a startup snapshot. */
export async function isSnapshotCapableBundle(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const head = Buffer.alloc(AGENT_BUNDLE_MARKER.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead).toString("utf8") === AGENT_BUNDLE_MARKER;
  } finally {
    await handle.close();
  }
}

const run = promisify(execFile);

/** Options of {@link buildAgentSnapshot}. */
export interface AgentSnapshotOptions {
  /** The agent bundle (from {@link buildAgentBundle}). */
  bundle: string;
  /** Where the snapshot blob goes. */
  out: string;
  /**
   * The Node binary that will run the agent: a snapshot only loads in the very binary (version
   * and V8 flags) that built it. Default this process's.
   */
  nodeBinary?: string;
}

/**
 * Builds the V8 startup snapshot of the agent: `node --snapshot-blob <out> --build-snapshot
 * <bundle>` runs the bundle's top level (every module it contains, zod's and vscode-jsonrpc's
 * included) and writes the heap to `out`; `node --snapshot-blob <out> <bundle> …` then starts
 * from that heap. On the dev box that took the agent from ~100 ms to listening down to ~80 ms, of
 * which ~70 ms is Node's own start (`node -e 0`).
 *
 * The blob is then checked by starting the agent from it with `--print-startup`, so a blob that
 * this Node cannot load (too old, snapshots unsupported, built with other flags) is refused here,
 * at image build time, rather than leaving sandboxes that never come up. Returns false (and
 * leaves no blob) when the snapshot cannot be built or does not start; the image then starts the
 * agent as a plain script.
 */
export async function buildAgentSnapshot(options: AgentSnapshotOptions): Promise<boolean> {
  const node = options.nodeBinary ?? process.execPath;
  const out = path.resolve(options.out);
  const bundle = path.resolve(options.bundle);
  try {
    await rm(out, { force: true });
    // --no-warnings: Node 20 warns that child_process is "not yet fully verified" in snapshots;
    // the agent's tests run it from the snapshot, and the check below proves it starts.
    await run(node, ["--no-warnings", "--snapshot-blob", out, "--build-snapshot", bundle], {
      timeout: 60_000,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
    const { stdout } = await run(node, ["--snapshot-blob", out, bundle, "--print-startup"], {
      timeout: 30_000,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    });
    const line = JSON.parse(stdout.trim()) as { startup?: unknown };
    if (line.startup === "snapshot") return true;
  } catch {
    // Not buildable or not loadable by this Node: fall back to the plain script.
  }
  await rm(out, { force: true });
  return false;
}
