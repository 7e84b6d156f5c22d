#!/usr/bin/env node
// The `aetherium` command. A checked-in shim rather than a bin pointing into dist/: npm links a
// workspace's bin at install time only when its target exists, and dist/ is built after install.
import { access } from "node:fs/promises";

const main = new URL("../dist/main.js", import.meta.url);
try {
  await access(main);
} catch {
  console.error("aetherium: not built yet; run `npm run build` in the Aetherium checkout first");
  process.exit(1);
}
await import(main.href);
