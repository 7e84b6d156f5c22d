#!/usr/bin/env node
/*
 * Runs the e2b JS SDK's own sandbox tests (packages/js-sdk/tests/sandbox/{commands,files,pty} of
 * an e2b-dev/E2B checkout), unchanged, against a running `aetherium start`, with the `e2b`
 * package installed in this repository standing in for the checkout's `src/`. Prints PASS/FAIL
 * per test, then the counts.
 *
 *   E2B_API_KEY=e2b_… node tests/e2e/scripts/run-e2b-sdk-tests.mjs <E2B checkout> [--url <server>]
 *     [--package e2b-2-50]
 *
 * `--package` names the installed package to test with (`e2b`, 2.51.0, by default; `e2b-2-50`
 * is 2.50.0, both pinned in tests/e2e/package.json).
 * The checkout is fetched by hand and never committed; CI does not run this (it may download only
 * npm and Debian packages). The key is an Aetherium key in E2B's shape (`aether keys create
 * <name> --e2b`). Nothing in the checkout is changed: the imports of its `src/` are redirected by
 * the vitest config this script writes to a temporary directory. Test files that exercise the
 * SDK's internals (they import modules the package does not export) are left out and named.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../../..");
const require = createRequire(path.join(repo, "tests/e2e/package.json"));

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const url = option("--url", process.env.AETHERIUM_URL ?? "http://127.0.0.1:8080");
const pkg = option("--package", "e2b");
const checkout = args.find((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
if (!checkout || !process.env.E2B_API_KEY) {
  console.error(
    "usage: E2B_API_KEY=e2b_… node tests/e2e/scripts/run-e2b-sdk-tests.mjs <E2B checkout> [--url <server>] [--package e2b-2-50]",
  );
  process.exit(2);
}
const sdkRoot = path.resolve(checkout, "packages/js-sdk");
const groups = ["commands", "files", "pty"].map((g) => path.join(sdkRoot, "tests/sandbox", g));
for (const dir of [path.join(sdkRoot, "tests/setup.ts"), ...groups]) {
  if (!existsSync(dir)) {
    console.error(`not an E2B checkout: ${dir} is missing`);
    process.exit(2);
  }
}

// What the package exports covers these `src/` imports; anything else is the SDK's internals.
const PUBLIC = /^(?:\.\.\/)+src(?:\/index\.js|\/errors\.js)?$/;
const TYPE_ONLY = { "sandbox/filesystem": new Set(["WriteEntry"]) };
const importsOf = (text) =>
  [...text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'([^']+)'/g)].map((m) => ({
    names: m[1]
      .split(",")
      .map((n) => n.trim())
      .filter(Boolean),
    from: m[2],
  }));
function internalImport(file) {
  for (const { names, from } of importsOf(readFileSync(file, "utf8"))) {
    if (!/^(?:\.\.\/)+src(?:\/|$)/.test(from) || PUBLIC.test(from)) continue;
    const sub = from.replace(/^(?:\.\.\/)+src\//, "");
    if (TYPE_ONLY[sub] && names.every((n) => TYPE_ONLY[sub].has(n))) continue;
    return from;
  }
  return undefined;
}

const included = [];
const excluded = [];
for (const dir of groups) {
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith(".test.ts")) continue;
    const file = path.join(dir, name);
    const internal = internalImport(file);
    if (internal) excluded.push({ file, internal });
    else included.push(file);
  }
}

// The package's ES module build: what `import … from "e2b"` gives a user.
const e2bPackage = require.resolve(`${pkg}/package.json`);
const e2bMeta = JSON.parse(readFileSync(e2bPackage, "utf8"));
const e2bEntry = path.join(path.dirname(e2bPackage), e2bMeta.module ?? e2bMeta.main);
const tmp = mkdtempSync(path.join(tmpdir(), "e2b-sdk-tests-"));
const results = path.join(tmp, "results.json");
const config = path.join(tmp, "vitest.config.mjs");
writeFileSync(
  config,
  `export default {
  root: ${JSON.stringify(sdkRoot)},
  resolve: {
    alias: [
      { find: /^(?:\\.\\.\\/)+src(?:\\/index\\.js|\\/errors\\.js|\\/sandbox\\/filesystem)?$/, replacement: ${JSON.stringify(e2bEntry)} },
    ],
  },
  server: { fs: { strict: false } },
  test: {
    include: ${JSON.stringify(included.map((f) => path.relative(sdkRoot, f)))},
    testTimeout: 60000,
    hookTimeout: 60000,
    fileParallelism: false,
    retry: 0,
  },
};
`,
);

const env = {
  ...process.env,
  E2B_API_URL: `${url}/e2b`,
  E2B_SANDBOX_URL: `${url}/e2b`,
};
delete env.E2B_DEBUG;
const vitest = path.join(path.dirname(require.resolve("vitest/package.json")), "vitest.mjs");
const run = spawnSync(
  process.execPath,
  [
    vitest,
    "run",
    "--config",
    config,
    "--reporter=json",
    `--outputFile.json=${results}`,
    // vitest's own progress goes to stderr; the summary below is stdout.
    "--reporter=dot",
  ],
  { cwd: sdkRoot, env, stdio: ["ignore", 2, "inherit"], timeout: 40 * 60_000 },
);

let report;
try {
  report = JSON.parse(readFileSync(results, "utf8"));
} catch {
  console.error(`vitest wrote no results (exit ${run.status ?? run.signal})`);
  rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
}
const counts = { passed: 0, failed: 0, skipped: 0 };
for (const suite of report.testResults) {
  const file = path.relative(path.join(sdkRoot, "tests/sandbox"), suite.name);
  if (suite.assertionResults.length === 0) {
    counts.failed++;
    console.log(`FAIL ${file} (did not load: ${suite.message.split("\n")[0]})`);
  }
  for (const t of suite.assertionResults) {
    const name = [...t.ancestorTitles, t.title].join(" > ");
    if (t.status === "passed") counts.passed++;
    else if (t.status === "failed") counts.failed++;
    else counts.skipped++;
    const word = t.status === "passed" ? "PASS" : t.status === "failed" ? "FAIL" : "SKIP";
    const why =
      t.status === "failed"
        ? `  -- ${(t.failureMessages[0] ?? "").split("\n")[0].slice(0, 200)}`
        : "";
    console.log(`${word} ${file} > ${name}${why}`);
  }
}
for (const { file, internal } of excluded) {
  console.log(
    `LEFT OUT ${path.relative(path.join(sdkRoot, "tests/sandbox"), file)} (imports SDK internals: ${internal})`,
  );
}
console.log(
  `\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped; ${excluded.length} files left out; e2b ${e2bMeta.version} against ${url}`,
);
rmSync(tmp, { recursive: true, force: true });
process.exit(counts.failed === 0 ? 0 : 1);
